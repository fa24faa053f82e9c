"""A real `celery worker` process for the accounts suites, on the real Redis.

The worker listens on the tests' own Redis database (TEST_REDIS_URL) and a queue named for
this run, so a developer's worker on the same Redis never takes these tasks. It reaches the
test database through DATABASE_URL; SQLite's default in-memory test database is invisible
to another process, so on SQLite this runs only when the test database is a file.
"""

import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from aixops.celery import app
from devtools.processes import start_worker, stop_process, wait_for
from tests.subprocesses import TEST_REDIS_URL, child_env

ROOT = Path(__file__).resolve().parents[1]


def point_app_at(broker: str | None, queue: str | None, eager: bool) -> None:
    """Send this process's tasks to `broker`/`queue` (or back to eager). The producer pool
    is cached per app, so it is dropped to pick up the new URL (what Celery does after a
    fork)."""
    app.conf.task_always_eager = eager
    if broker:
        app.conf.broker_url = broker
    if queue:
        app.conf.task_default_queue = queue
    app._pool = None
    app.amqp._producer_pool = None


def log_tail(path: Path):
    """What a timed-out wait shows: the end of the worker's log."""
    return lambda: f"worker log:\n{path.read_text()[-4000:]}"


@pytest.fixture
def worker_env() -> dict:
    """Extra environment for the worker; a test module overrides this fixture to add some."""
    return {}


@pytest.fixture
def worker(transactional_db, tmp_path, settings, worker_env):
    """A `celery worker` process on this run's queue, stopped (and its database emptied)
    after; this process sends its tasks there too. Yields the worker's log file."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "the worker is another process and cannot see SQLite's in-memory test database; "
            "CI=true bin/test runs this on PostgreSQL"
        )
    queue = f"aixops-test-workspaces-{uuid.uuid4().hex[:8]}"
    root, archive = tmp_path / "worker-workspaces", tmp_path / "worker-archive"
    settings.WORKSPACE_ROOT, settings.WORKSPACE_ARCHIVE = root, archive
    log_path = tmp_path / "worker.log"
    env = child_env(
        CELERY_BROKER_URL=TEST_REDIS_URL,
        CELERY_RESULT_BACKEND=TEST_REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        WORKSPACE_ROOT=str(root),
        WORKSPACE_ARCHIVE=str(archive),
        CONN_MAX_AGE="0",
        LOG_FORMAT="text",
        **worker_env,
    )
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    process = start_worker(queue=queue, env=env, log_path=log_path)
    original = (app.conf.broker_url, app.conf.task_default_queue)
    # The outbox and "Scan now" connect to the broker the settings name.
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    point_app_at(TEST_REDIS_URL, queue, eager=False)
    try:
        wait_for(
            "the worker to start",
            lambda: "ready." in log_path.read_text(),
            explain=log_tail(log_path),
        )
        yield log_path
    finally:
        stop_process(process, grace=15)
        point_app_at(original[0], original[1], eager=True)
        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
