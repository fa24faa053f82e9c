"""Child processes that must see the test's database and Redis: a Celery worker, a scan, a
command."""

import os
import resource
import subprocess
import sys

from django.conf import settings
from django.db import connection

# The tests' own Redis database: a developer's worker (database 0) never sees it.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def test_database_url() -> str:
    """DATABASE_URL for the database this test runs on (file SQLite or PostgreSQL)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{db['USER']}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env.update(extra)
    return env


def run_manage(*args: str, memory_limit_mb: int, timeout: float) -> subprocess.CompletedProcess:
    """`manage.py ARGS` in a child whose address space is capped: a command that grows
    without bound dies of MemoryError instead of taking the machine's memory."""
    limit = memory_limit_mb * 1024 * 1024

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap_memory,
    )
