"""Child processes that must see the test's database: a Celery worker, a scan."""

import os

from django.db import connection


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
