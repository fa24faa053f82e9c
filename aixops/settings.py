"""Settings for the AIXOps portal: one module, every knob read from the environment.

The defaults are the embedded setup (SQLite in ./data, a development secret,
DEBUG on) so that a fresh machine runs with no configuration. Production sets
DEBUG=false, and then a real SECRET_KEY and ALLOWED_HOSTS are required.
"""

import copy
import ipaddress
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
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


def env_int(name: str, default: int | None, *, minimum: int = 0) -> int | None:
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
    # Lowest room first: its templates (the admin's base and index) win over Django's.
    "aixops",
    "audit",
    "accounts",
    "workspaces",
    "portal",
    # The admin site with the membership gate and what waits for an admin.
    "aixops.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    # The API docs page (/api/docs) from django-ninja's own template and static Swagger UI,
    # served by the portal: no CDN, no inline script (the CSP above).
    "ninja",
]

MIDDLEWARE = [
    "aixops.observability.RequestIdMiddleware",
    "aixops.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "aixops.middleware.ReaderTimeZoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # API calls with `Authorization: Bearer <token>` act as the token's owner.
    "accounts.tokens.BearerTokenMiddleware",
    "accounts.oidc.middleware.OIDCSessionRefresh",
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
                "portal.context_processors.catalog_nav",
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
# Off by default: the check is a round trip (SELECT 1) before every request's first query,
# which a loaded worker waits on (bench/load.py measures it). Without it, a connection the
# database dropped (a restart) fails one request per worker, then reconnects.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_flag("CONN_HEALTH_CHECKS", default=False)
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not SQLite's default in-memory test database, so that a Celery worker
    # started by the integration tests (another process) sees the test data.
    DATABASES["default"]["TEST"].setdefault("NAME", str(DATA_DIR / "test-aixops.sqlite3"))
    # The worker writes while the tests read: wait for the lock rather than fail.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def project_version() -> str:
    """The portal's version, as pyproject.toml states it."""
    with open(BASE_DIR / "pyproject.toml", "rb") as pyproject:
        return tomllib.load(pyproject)["project"]["version"]


# What is deployed: a commit, an image tag. Cached values are kept under it (below).
RELEASE = env.str("RELEASE", default="") or project_version()
if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", RELEASE):
    raise ImproperlyConfigured(
        "RELEASE must be letters, digits, '.', '_', '+' and '-' (at most 100), such as a "
        f"commit or an image tag, not {RELEASE!r}."
    )


def cache_settings(cache: dict, release: str) -> dict:
    """CACHES from one cache's settings (CACHE_URL): `default`, for the portal's own values,
    with the release in its KEY_PREFIX, so that processes of two releases (during a rolling
    deploy, or a worker not yet restarted) never read values whose shape the other's code
    decided; `sessions`, the same cache without it, so that a sign-out reaches every
    process whatever its release; and `fragments` and `local`, in each process's memory."""
    versioned = copy.deepcopy(cache)
    prefix = versioned.get("KEY_PREFIX", "")
    versioned["KEY_PREFIX"] = f"{prefix}:release-{release}" if prefix else f"release-{release}"
    return {
        "default": versioned,
        "sessions": copy.deepcopy(cache),
        # Template fragments every page shows the same to every reader of a kind (the top bar's
        # links and tools, the stylesheet and scripts: `{% cache ... using="fragments" %}`),
        # kept in each process: they change only with a deploy, which starts new processes, or
        # with what their keys name, and a round trip to a shared cache would cost about what
        # rendering them does. A catalog page's whole frame is kept here too, per kind of
        # reader and page (portal.pages.kind_frame).
        "fragments": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "aixops-fragments",
            "OPTIONS": {"MAX_ENTRIES": 2000},
        },
        # What a process notes for itself so as not to ask the shared cache on every
        # request (portal.asked: the pages it recorded as asked for lately).
        "local": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "aixops-local",
        },
    }


CACHES = cache_settings(env.cache("CACHE_URL", default="locmemcache://aixops"), RELEASE)
# How many of the largest page parts it served each web process keeps as they are
# (portal/page_copies.py): before a shared cache, which would send them whole on every
# view, a few; before a cache in local memory, the process's own already, none.
PAGE_COPIES = env_int(
    "PAGE_COPIES",
    default=0 if CACHES["default"]["BACKEND"].endswith(".LocMemCache") else 8,
    minimum=0,
)
# Sessions are read from the cache and written through to the database, so a page
# view costs no session query while sessions still survive a cache flush.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"
if not DEBUG and CACHES["default"]["BACKEND"] in {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}:
    # Each gunicorn worker would keep its own copy of every session: a sign-out (or a
    # back-channel logout from Keycloak) handled by one worker would not reach the others.
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache all web workers share, e.g. redis://127.0.0.1:6379/1, "
        "when DEBUG is false: sessions are cached there."
    )

AUTH_USER_MODEL = "accounts.User"
# accounts:login sends visitors on to Keycloak when OIDC_ISSUER is set, and shows the local
# form otherwise (the embedded setup without a provider, and most tests).
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "accounts:signed-out"
AUTHENTICATION_BACKENDS = [
    # Answers only the /oidc/callback/ request (it needs `code` and `state`).
    "accounts.oidc.backend.PortalOIDCBackend",
    "accounts.backends.LocalAccountBackend",
]

# --- Keycloak single sign-on (mozilla-django-oidc) -----------------------------------------
# Everything comes from the realm's discovery document, fetched once per process; each
# endpoint can be overridden. Without OIDC_ISSUER the portal signs in with local accounts.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="aixops-portal")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
if OIDC_ISSUER and not OIDC_ISSUER.startswith(("https://", "http://127.0.0.1", "http://localhost")):
    raise ImproperlyConfigured("OIDC_ISSUER must be an https:// URL (or loopback for development).")
if OIDC_ISSUER and not DEBUG and not OIDC_RP_CLIENT_SECRET:
    raise ImproperlyConfigured("OIDC_CLIENT_SECRET must be set when OIDC_ISSUER is set.")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_JWKS_ENDPOINT", default="")
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_LOGOUT_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = "RS256"  # the only algorithm accepted, whatever a token's header says
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", default=5, minimum=1)
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of RP-initiated logout
OIDC_AUTHENTICATE_CLASS = "accounts.oidc.views.PortalAuthenticationRequestView"
OIDC_CALLBACK_CLASS = "accounts.oidc.views.PortalCallbackView"
OIDC_OP_LOGOUT_URL_METHOD = "accounts.oidc.views.provider_logout_url"
# Seconds allowed for clock skew when checking exp, iat and nbf.
OIDC_LEEWAY = env_int("OIDC_LEEWAY", default=30)
# How often a signed-in session is re-checked with Keycloak (refresh token grant); a user
# disabled there loses access within this many seconds.
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env_int("OIDC_REFRESH_INTERVAL", default=300, minimum=5)
# How old a back-channel logout token may be (its `iat`).
OIDC_LOGOUT_TOKEN_MAX_AGE = env_int("OIDC_LOGOUT_TOKEN_MAX_AGE", default=600, minimum=10)
OIDC_ADMIN_ROLES = env.list("OIDC_ADMIN_ROLES", default=["aixops-admin"])
OIDC_SUPERUSER_ROLES = env.list("OIDC_SUPERUSER_ROLES", default=[])
# The Django group (with the admin UI's permissions) that holders of an admin role join.
OIDC_ADMIN_GROUP = env.str("OIDC_ADMIN_GROUP", default="Platform admins")
# An address Keycloak has not verified: "drop" signs the person in without it (no mail, no
# domain rule), "reject" refuses the sign-in, "allow" keeps it.
OIDC_UNVERIFIED_EMAIL = env.str("OIDC_UNVERIFIED_EMAIL", default="drop")
if OIDC_UNVERIFIED_EMAIL not in {"drop", "reject", "allow"}:
    raise ImproperlyConfigured(
        f"OIDC_UNVERIFIED_EMAIL must be drop, reject or allow, not {OIDC_UNVERIFIED_EMAIL!r}."
    )
# Break-glass: the local username/password form for superusers when Keycloak is down.
LOCAL_LOGIN_ENABLED = env_flag("LOCAL_LOGIN_ENABLED", default=True)

# --- Member approval -----------------------------------------------------------------------
# Auto-approval at sign-in: holders of these roles or groups, or verified addresses in these
# domains. By default whoever holds an admin role is let in.
MEMBER_AUTO_APPROVE_ROLES = env.list("MEMBER_AUTO_APPROVE_ROLES", default=OIDC_ADMIN_ROLES)
MEMBER_AUTO_APPROVE_GROUPS = env.list("MEMBER_AUTO_APPROVE_GROUPS", default=[])
MEMBER_AUTO_APPROVE_EMAIL_DOMAINS = env.list("MEMBER_AUTO_APPROVE_EMAIL_DOMAINS", default=[])
# Personal API tokens: an address that sends this many wrong bearer tokens within the
# window (seconds) is refused (429) until the window ends.
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", default=20, minimum=1)
API_TOKEN_FAILURE_WINDOW = env_int("API_TOKEN_FAILURE_WINDOW", default=300, minimum=1)
# Shown on the waiting page: whom to ask.
MEMBER_APPROVAL_CONTACT = env.str("MEMBER_APPROVAL_CONTACT", default="")
# The portal's own address, for links in e-mail.
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_flag("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", default=10, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="AIXOps <aixops@localhost>")

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
# Served at the site's root by whitenoise: browsers, and the admin's pages that name no
# icon, ask for /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "aixops" / "root"

FIXTURE_DIRS = [BASE_DIR / "fixtures"]
# YAML fixtures are read with bounded memory and nesting (no aliases); see the module.
SERIALIZATION_MODULES = {"yaml": "aixops.yaml_serializer"}

# Serving behind nginx. The proxy terminates TLS and says so in X-Forwarded-Proto;
# only trust that header when the proxy is the only way in (the default in production).
BEHIND_PROXY = env_flag("BEHIND_PROXY", default=not DEBUG)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env_flag("USE_X_FORWARDED_HOST", default=False)


def _networks(name: str, default: list[str]) -> list:
    """Addresses or networks from a comma-separated variable; `*` is any address, and
    `none` (or an empty value) is no address."""
    entries = [entry.strip() for entry in env.list(name, default=default) if entry.strip()]
    if [entry.lower() for entry in entries] == ["none"]:
        return []
    try:
        return [
            network
            for entry in entries
            for network in (
                (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
                if entry == "*"
                else (ipaddress.ip_network(entry, strict=False),)
            )
        ]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None


# The proxies whose X-Forwarded-For names the client (audit trail): the variable gunicorn
# reads for the same trust (aixops/gunicorn.conf.py), so one list says who the proxy is.
TRUSTED_PROXY_NETWORKS = (
    _networks("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"]) if BEHIND_PROXY else []
)
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes are called by the orchestrator over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_flag("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("https://", "http://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries need a scheme, e.g. https://portal.example.com, "
            f"not {origin!r}."
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Content-Security-Policy (django-csp) on every response: scripts, styles and images come
# from the portal itself, and no page has inline script, style or event handlers
# (aixops/static/aixops/aixops.js), so injected markup runs nothing. Signing out POSTs a form
# that is redirected to Keycloak's end-session endpoint, and Chromium holds form-action to
# the redirect too: Keycloak's origin (and an overridden logout endpoint's) is allowed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [
            SELF,
            *sorted({_origin(url) for url in (OIDC_ISSUER, OIDC_OP_LOGOUT_ENDPOINT) if url}),
        ],
    },
}
SILENCED_SYSTEM_CHECKS = [
    # HSTS preloading submits the domain to browsers' built-in lists, which an
    # internal platform domain does not belong on; SECURE_HSTS_PRELOAD opts in.
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
# Instances sharing one Redis (bin/run in two checkouts on a machine) keep apart by a
# namespace: it names their task queue and prefixes every broker and result key (and the
# scan lock), so one instance's worker never takes another's tasks. bin/run derives it from
# DATA_DIR; empty keeps Celery's `celery` queue and unprefixed keys.
BROKER_NAMESPACE = env.str("BROKER_NAMESPACE", default="")
if BROKER_NAMESPACE and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", BROKER_NAMESPACE):
    raise ImproperlyConfigured(
        f"BROKER_NAMESPACE must be letters, digits, '.', '_' or '-' (at most 63), "
        f"not {BROKER_NAMESPACE!r}."
    )
if BROKER_NAMESPACE:
    CELERY_TASK_DEFAULT_QUEUE = BROKER_NAMESPACE
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{BROKER_NAMESPACE}:"}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{BROKER_NAMESPACE}:"}
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
# Run tasks in-process instead of through the broker (the tests do; bin/run runs a worker).
CELERY_TASK_ALWAYS_EAGER = env_flag("CELERY_TASK_ALWAYS_EAGER", default=False)
# A worker started before its broker (bin/run starts them together) waits for it.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Health scans. Beat queues one every HEALTH_SCAN_INTERVAL seconds; a queued scan
# expires after one interval, so a backlog (worker down for an hour) never piles up.
# The scan's own deadline sits below the task's soft time limit, which sits below
# the hard one; the overlap lock outlives the hard limit, so only a dead worker's
# lock ever lapses.
HEALTH_SCAN_INTERVAL = env_int("HEALTH_SCAN_INTERVAL", default=60, minimum=5)
# How often an open catalog page asks whether a scan moved its health (live.js, with
# jitter; a page left hidden asks nothing). An unchanged answer is a 204 from the cache.
LIVE_STATUS_SECONDS = env_int("LIVE_STATUS_SECONDS", default=20, minimum=1)
HEALTH_SCAN_DEADLINE = env_int("HEALTH_SCAN_DEADLINE", default=45, minimum=1)
HEALTH_SCAN_SOFT_TIME_LIMIT = HEALTH_SCAN_DEADLINE + 10
HEALTH_SCAN_TIME_LIMIT = HEALTH_SCAN_DEADLINE + 20
HEALTH_SCAN_CONCURRENCY = env_int("HEALTH_SCAN_CONCURRENCY", default=100, minimum=1)
# A queued scan of more checks than this is split into chunks of this many, each probed by
# a task of its own, on any free worker (portal/scans.py). A chunk lasts at least as long
# as its slowest probe (often a timeout), so a few large chunks per worker process beat
# many small ones (bench/scan.py).
HEALTH_SCAN_CHUNK_SIZE = env_int("HEALTH_SCAN_CHUNK_SIZE", default=2000, minimum=1)
# Raw results are kept HEALTH_RETENTION_HOURS; the history beyond lives in the rollups,
# kept HEALTH_ROLLUP_RETENTION_DAYS (at least the cards' 7 days).
if env.str("HEALTH_RETENTION_DAYS", default=""):
    raise ImproperlyConfigured(
        "HEALTH_RETENTION_DAYS is replaced by HEALTH_RETENTION_HOURS (raw results, default 48) "
        "and HEALTH_ROLLUP_RETENTION_DAYS (the history, default 400)."
    )
HEALTH_RETENTION_HOURS = env_int("HEALTH_RETENTION_HOURS", default=48, minimum=1)
HEALTH_ROLLUP_RETENTION_DAYS = env_int("HEALTH_ROLLUP_RETENTION_DAYS", default=400, minimum=7)
HEALTH_LOCK_URL = env.str("HEALTH_LOCK_URL", default=CELERY_BROKER_URL)
HEALTH_LOCK_KEY = env.str(
    "HEALTH_LOCK_KEY", default=f"{BROKER_NAMESPACE or 'aixops'}:health:scan-lock"
)
HEALTH_LOCK_SECONDS = env_int("HEALTH_LOCK_SECONDS", default=HEALTH_SCAN_TIME_LIMIT + 10, minimum=1)
# Where no health check may point, whatever a staff user types: the addresses where clouds
# hand out instance metadata and credentials. Refused when a check is saved (any spelling
# of an address in them) and again when probing, for every address the host resolves to.
HEALTH_CHECK_DENY_NETWORKS = _networks(
    "HEALTH_CHECK_DENY_NETWORKS",
    default=[
        "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, OpenStack, Oracle metadata
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "fd20:ce::254/128",  # GCP metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure WireServer (VM agent configuration)
    ],
)
# Alerts (portal/alerts.py): a default channel that hears of everything, for a setup with
# no admin clicks; more channels are made in the Admin UI. A delivery is tried
# ALERT_DELIVERY_ATTEMPTS times, with growing pauses, then shown as failed.
ALERT_EMAIL_TO = env.list("ALERT_EMAIL_TO", default=[])
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_SECRET = env.str("ALERT_WEBHOOK_SECRET", default="")
if ALERT_WEBHOOK_URL and urlsplit(ALERT_WEBHOOK_URL).scheme not in ("http", "https"):
    raise ImproperlyConfigured(
        f"ALERT_WEBHOOK_URL must be an http(s) URL, not {ALERT_WEBHOOK_URL!r}."
    )
ALERT_WEBHOOK_TIMEOUT = env_int("ALERT_WEBHOOK_TIMEOUT", default=10, minimum=1)
ALERT_DELIVERY_ATTEMPTS = env_int("ALERT_DELIVERY_ATTEMPTS", default=8, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "refresh-health": {
        "task": "portal.tasks.refresh_health",
        "schedule": HEALTH_SCAN_INTERVAL,
        "options": {"expires": HEALTH_SCAN_INTERVAL},
    },
    "prune-health": {
        "task": "portal.tasks.prune_health",
        # Hourly, so each run deletes an hour's results, not a day's.
        "schedule": crontab(minute=17),
        "options": {"expires": 60 * 60},
    },
}
# Where operators watch the workers: the stale-scan warning links here, and admin pages
# link a workspace's last task to FLOWER_URL/task/<id>.
FLOWER_URL = env.str("FLOWER_URL", default="/flower").rstrip("/")

# Where the portal's own services live, e.g. https://platform.example.com; service
# paths such as /gitlab are shown relative to it.
PLATFORM_BASE_URL = env.str("PLATFORM_BASE_URL", default="")

# Members' personal workspaces (workspaces/backends).
WORKSPACE_BACKEND = env.str("WORKSPACE_BACKEND", default="local")
WORKSPACE_ROOT = Path(env.str("WORKSPACE_ROOT", default=str(DATA_DIR / "workspaces")))
WORKSPACE_ARCHIVE = Path(env.str("WORKSPACE_ARCHIVE", default=str(DATA_DIR / "workspace-archive")))
# Owner of new workspace directories; unset keeps the portal's own user.
WORKSPACE_UID = env_int("WORKSPACE_UID", default=None)
WORKSPACE_GID = env_int("WORKSPACE_GID", default=None)
# Approving a member requests their workspace; an admin (or the rule below) provisions it.
WORKSPACE_AUTO_REQUEST = env_flag("WORKSPACE_AUTO_REQUEST", default=True)
# Provision requested workspaces at once instead of waiting for an admin.
WORKSPACE_AUTO_PROVISION = env_flag("WORKSPACE_AUTO_PROVISION", default=False)
WORKSPACE_DEFAULT_QUOTA_GIB = env_int("WORKSPACE_DEFAULT_QUOTA_GIB", default=10, minimum=1)
# How often the periodic task measures active and suspended workspaces.
WORKSPACE_USAGE_INTERVAL = env_int("WORKSPACE_USAGE_INTERVAL", default=15 * 60, minimum=10)
# Seconds an active workspace may go unused (its backend's last activity) before the
# idle policy stops its server; the member starts it again. 0: never.
WORKSPACE_IDLE_TIMEOUT = env_int("WORKSPACE_IDLE_TIMEOUT", default=0)
# How often the backends are compared with the portal (the drift, in the audit log).
WORKSPACE_RECONCILE_INTERVAL = env_int("WORKSPACE_RECONCILE_INTERVAL", default=600, minimum=60)
# How long one backend call (provision, suspend, resume, delete) may take on a worker:
# the task's hard limit, with its soft limit a minute before; an operation claimed longer
# ago than this (and a minute) belongs to a dead worker and is marked failed.
WORKSPACE_TASK_TIME_LIMIT = env_int("WORKSPACE_TASK_TIME_LIMIT", default=300, minimum=120)
WORKSPACE_TASK_SOFT_TIME_LIMIT = WORKSPACE_TASK_TIME_LIMIT - 60

# The `jupyterhub` backend: the hub's public address (what members open) and a service
# token with the admin:users, admin:servers, read:users:activity and
# groups!group=<JUPYTERHUB_SUSPENDED_GROUP> scopes (README, "Workspaces on JupyterHub").
JUPYTERHUB_URL = env.str("JUPYTERHUB_URL", default="").rstrip("/")
JUPYTERHUB_API_TOKEN = env.str("JUPYTERHUB_API_TOKEN", default="")
# The hub group whose members the hub's pre-spawn hook refuses a server.
JUPYTERHUB_SUSPENDED_GROUP = env.str("JUPYTERHUB_SUSPENDED_GROUP", default="aixops-suspended")
# Seconds one request to the hub may take, and how long a server may take to become ready.
JUPYTERHUB_TIMEOUT = env_int("JUPYTERHUB_TIMEOUT", default=10, minimum=1)
JUPYTERHUB_START_TIMEOUT = env_int("JUPYTERHUB_START_TIMEOUT", default=120, minimum=1)
if WORKSPACE_BACKEND == "jupyterhub":
    _hub = urlsplit(JUPYTERHUB_URL)
    if _hub.scheme not in {"http", "https"} or not _hub.hostname:
        raise ImproperlyConfigured(
            "JUPYTERHUB_URL must be the hub's http(s):// address when WORKSPACE_BACKEND is "
            f"jupyterhub, not {JUPYTERHUB_URL!r}."
        )
    if not JUPYTERHUB_API_TOKEN:
        raise ImproperlyConfigured(
            "JUPYTERHUB_API_TOKEN must be set to a hub service token when WORKSPACE_BACKEND "
            "is jupyterhub."
        )
    if JUPYTERHUB_START_TIMEOUT >= WORKSPACE_TASK_SOFT_TIME_LIMIT:
        raise ImproperlyConfigured(
            "JUPYTERHUB_START_TIMEOUT must be shorter than the workspace task's soft time "
            f"limit, {WORKSPACE_TASK_SOFT_TIME_LIMIT} s (WORKSPACE_TASK_TIME_LIMIT - 60)."
        )

CELERY_BEAT_SCHEDULE["prune-logout-tokens"] = {
    "task": "accounts.tasks.prune_logout_tokens",
    "schedule": crontab(hour=4, minute=41),
    "options": {"expires": 60 * 60},
}
CELERY_BEAT_SCHEDULE["workspace-usage"] = {
    "task": "workspaces.tasks.refresh_usage",
    "schedule": WORKSPACE_USAGE_INTERVAL,
    # A backlog of measurements (worker down for a day) is worthless: drop stale ones.
    "options": {"expires": WORKSPACE_USAGE_INTERVAL},
}

CELERY_BEAT_SCHEDULE["workspace-reconcile"] = {
    "task": "workspaces.tasks.reconcile",
    "schedule": WORKSPACE_RECONCILE_INTERVAL,
    "options": {"expires": WORKSPACE_RECONCILE_INTERVAL},
}
if WORKSPACE_IDLE_TIMEOUT:
    CELERY_BEAT_SCHEDULE["workspace-idle"] = {
        "task": "workspaces.tasks.stop_idle",
        # Often enough that no server runs idle much longer than the timeout.
        "schedule": max(60, min(WORKSPACE_IDLE_TIMEOUT // 4, 15 * 60)),
        "options": {"expires": 60},
    }

# Work that follows a committed change waits in the outbox (aixops.outbox) when the
# broker was away; beat sends it every OUTBOX_INTERVAL seconds once the broker is back.
OUTBOX_INTERVAL = env_int("OUTBOX_INTERVAL", default=30, minimum=5)
CELERY_BEAT_SCHEDULE["outbox"] = {
    "task": "aixops.tasks.send_outbox",
    "schedule": OUTBOX_INTERVAL,
    # The next sweep sends the same rows: a queued backlog of sweeps is worthless.
    "options": {"expires": OUTBOX_INTERVAL},
}

# /metrics answers a Prometheus that presents METRICS_TOKEN as a bearer token, or scrapes
# from one of METRICS_ALLOWED_NETWORKS. Behind nginx every client looks like 127.0.0.1,
# so production keeps /metrics off the public proxy and relies on the token.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = _networks(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"] if DEBUG else []
)

LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "aixops.observability.LogContextFilter"}},
    "formatters": {
        # One JSON object per line, for the log shipper; the fields name what a line is about.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(user)s %(task_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(user)s %(task_id)s] "
            "%(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO: one line per check per scan is noise.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
# Celery keeps the logging configured here instead of installing its own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
