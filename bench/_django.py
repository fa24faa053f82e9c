"""Set up Django for a bench script on a fresh SQLite database (or DATABASE_URL if set)."""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    """Configure settings for an in-process run, migrate, and return."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aixops.settings")
    if "DATABASE_URL" not in os.environ:
        os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="aixops-bench-")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client, and 'testserver' in ALLOWED_HOSTS
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", "--no-input", verbosity=0)


def machine() -> str:
    """What a figure was measured on: the core count, how busy the cores already are, and
    the database it ran against."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            database = cursor.fetchone()[0].split(" on ")[0]
    else:
        database = f"{connection.vendor} {connection.Database.sqlite_version}"
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores (load average {load:.1f}, {cpu_reference()}), {database}"
    )


def cpu_reference() -> str:
    """How fast this machine's CPU runs Python now: the median CPU time of a fixed loop.
    A shared machine's speed drifts from minute to minute; figures measured a while
    apart compare only next to this."""
    times = []
    for _ in range(9):
        started = time.process_time()
        total = 0
        for number in range(300_000):
            total += number * number
        times.append(time.process_time() - started)
    return f"reference loop {statistics.median(times) * 1000:.1f} ms CPU"
