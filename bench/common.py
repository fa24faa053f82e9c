"""What the benchmarks share: a prepared database, a gunicorn to measure, and wrk."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

from devtools.processes import free_port, listening, stop_process, wait_for  # noqa: E402

# wrk reports these through its Lua hook, as one JSON line after the run.
_WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50_ms": %f, "p95_ms": %f, "p99_ms": %f, '
    .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
    .. '"status_errors": %d}\\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end
"""



# Sessions and pages are cached here, as in production; emptied before and after a run
# (BENCH_CACHE_URL names another database when two benches run on one machine).
BENCH_CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12")


def bench_environment(workdir: Path) -> dict:
    """Production-like settings on a scratch data directory (or DATABASE_URL, if given)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x7Qp2Lm9Zr4Tv8Wy1Ks5Hd3Jf6Gb0Nc" * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "DATA_DIR": str(workdir),
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "CACHE_URL": BENCH_CACHE_URL,
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    return env


def prepare(env: dict) -> str:
    """Migrate, load the seed catalog and a 200-service category, record a finished scan
    with every item's health (as beat would have), and sign a member in.

    Returns the Cookie header a browser of that member sends: its session and the CSRF
    cookie it was given on its first page.
    """

    def manage(*args):
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)

    manage("migrate", "--no-input", "-v0")
    manage("collectstatic", "--no-input", "-v0")
    manage("loaddata", "catalog", "-v0")
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "from portal.models import Category\n"
        "from django.middleware.csrf import CSRF_SECRET_LENGTH\n"
        "from django.utils.crypto import get_random_string\n"
        "from tests.factories import make_category, make_checks, make_finished_scan\n"
        "if not Category.objects.filter(slug='big').exists():\n"
        "    big = make_category('big', services=200, stores=100, items=20)\n"
        "    make_checks(big)\n"
        "    make_checks(Category.objects.get(slug='devops'))\n"
        "make_finished_scan()\n"
        "user, _ = get_user_model().objects.get_or_create(\n"
        "    username='bench-member', defaults={'membership': 'approved'})\n"
        "session = SessionStore()\n"
        "session['_auth_user_id'] = str(user.pk)\n"
        "session['_auth_user_backend'] = 'accounts.backends.LocalAccountBackend'\n"
        "session['_auth_user_hash'] = user.get_session_auth_hash()\n"
        "session.create()\n"
        "csrf_secret = get_random_string(CSRF_SECRET_LENGTH)\n"
        "print(f'sessionid={session.session_key}; csrftoken={csrf_secret}')\n"
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


@contextmanager
def prepared_portal(*gunicorn_args: str):
    """A prepared database and a gunicorn serving it on 127.0.0.1; yields (base URL, cookie)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="aixops-bench-"))
    env = bench_environment(workdir)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "prometheus")
    empty_cache()
    cookie = prepare(env)
    port = free_port()
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "-c",
            "aixops/gunicorn.conf.py",
            "aixops.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--access-logfile",
            "/dev/null",
            *gunicorn_args,
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for("gunicorn to serve", lambda: listening(port))
        yield f"http://127.0.0.1:{port}", cookie, env
    finally:
        stop_process(server, grace=15)
        shutil.rmtree(workdir, ignore_errors=True)
        empty_cache()


def empty_cache() -> None:
    import redis

    redis.Redis.from_url(BENCH_CACHE_URL).flushdb()


def gunicorn_settings(*gunicorn_args: str) -> dict[str, str]:
    """gunicorn's own account of the settings the production config and these arguments
    resolve to (workers, worker_class, threads, ...)."""
    printed = subprocess.run(
        [
            *(PYTHON, "-m", "gunicorn", "-c", "aixops/gunicorn.conf.py", "--print-config"),
            *gunicorn_args,
            "aixops.wsgi",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in printed.splitlines())
        if value
    }


# What Chromium sends; "identity" asks for an uncompressed response.
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"


def wrk(
    url: str,
    cookie: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 2,
    encodings: str = BROWSER_ENCODINGS,
) -> dict:
    """Drive one URL with wrk as a browser would; return requests/s, latency percentiles
    and error counts."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_REPORT)
    try:
        result = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "-s",
                script.name,
                "--timeout",
                "10s",
                "-H",
                f"Cookie: {cookie}",
                "-H",
                "Accept-Language: ko",
                "-H",
                f"Accept-Encoding: {encodings}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rate"] = figures["requests"] / figures["seconds"]
    figures["errors"] = sum(
        figures[key]
        for key in ("connect_errors", "read_errors", "write_errors", "timeouts", "status_errors")
    )
    return figures
