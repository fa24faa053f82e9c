"""Settings for the AIXOps portal: one module, every knob read from the environment.

The defaults are the embedded setup (SQLite in ./data, a development secret,
DEBUG on) so that a fresh machine runs with no configuration. Production sets
DEBUG=false, and then a real SECRET_KEY and ALLOWED_HOSTS are required.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_flag(name: str, default: bool) -> bool:
    """A boolean variable; anything but a clear yes or no is a configuration error."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole-number variable with a lower bound, refused with its name when malformed."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


DEBUG = env_flag("DEBUG", default=True)

_DEVELOPMENT_SECRET_KEY = "django-insecure-aixops-embedded-development-key-not-for-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

if not DEBUG:
    if SECRET_KEY == _DEVELOPMENT_SECRET_KEY or SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured("SECRET_KEY must be set to a real secret when DEBUG is false.")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY must be a random value of at least 50 characters when DEBUG is false."
        )
    if "ALLOWED_HOSTS" not in env.ENVIRON or not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list the portal's host names (no '*') when DEBUG is false."
        )

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))

INSTALLED_APPS = [
    "accounts",
    "portal",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "portal.middleware.ReaderTimeZoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aixops.urls"
WSGI_APPLICATION = "aixops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if "DATABASE_URL" not in env.ENVIRON:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'aixops.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not SQLite's default in-memory test database, so that a Celery worker
    # started by the integration tests (another process) sees the test data.
    DATABASES["default"]["TEST"].setdefault("NAME", str(DATA_DIR / "test-aixops.sqlite3"))
    # The worker writes while the tests read: wait for the lock rather than fail.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://aixops")}
# Sessions are read from the cache and written through to the database, so a page
# view costs no session query while sessions still survive a cache flush.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ko")
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of ko, en, not {LANGUAGE_CODE!r}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

FIXTURE_DIRS = [BASE_DIR / "fixtures"]

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=240, minimum=1)
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_TASK_TRACK_STARTED = True
# A worker started before its broker (bin/run starts them together) waits for it.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Health scans. Beat queues one every HEALTH_SCAN_INTERVAL seconds; a queued scan
# expires after one interval, so a backlog (worker down for an hour) never piles up.
# The scan's own deadline sits below the task's soft time limit, which sits below
# the hard one; the overlap lock outlives the hard limit, so only a dead worker's
# lock ever lapses.
HEALTH_SCAN_INTERVAL = env_int("HEALTH_SCAN_INTERVAL", default=60, minimum=5)
HEALTH_SCAN_DEADLINE = env_int("HEALTH_SCAN_DEADLINE", default=45, minimum=1)
HEALTH_SCAN_SOFT_TIME_LIMIT = HEALTH_SCAN_DEADLINE + 10
HEALTH_SCAN_TIME_LIMIT = HEALTH_SCAN_DEADLINE + 20
HEALTH_SCAN_CONCURRENCY = env_int("HEALTH_SCAN_CONCURRENCY", default=100, minimum=1)
HEALTH_RETENTION_DAYS = env_int("HEALTH_RETENTION_DAYS", default=14, minimum=1)
HEALTH_LOCK_URL = env.str("HEALTH_LOCK_URL", default=CELERY_BROKER_URL)
HEALTH_LOCK_KEY = env.str("HEALTH_LOCK_KEY", default="aixops:health:scan-lock")
HEALTH_LOCK_SECONDS = env_int("HEALTH_LOCK_SECONDS", default=HEALTH_SCAN_TIME_LIMIT + 10, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "refresh-health": {
        "task": "portal.tasks.refresh_health",
        "schedule": HEALTH_SCAN_INTERVAL,
        "options": {"expires": HEALTH_SCAN_INTERVAL},
    },
    "prune-health": {
        "task": "portal.tasks.prune_health",
        "schedule": crontab(hour=4, minute=17),
        "options": {"expires": 60 * 60},
    },
}
# Where operators watch the workers; the stale-scan warning links here.
FLOWER_URL = env.str("FLOWER_URL", default="/flower/")

# Where the portal's own services live, e.g. https://platform.example.com; service
# paths such as /gitlab are shown relative to it.
PLATFORM_BASE_URL = env.str("PLATFORM_BASE_URL", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO: one line per check per scan is noise.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
