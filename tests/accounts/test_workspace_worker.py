"""End to end through a real Celery worker on the real Redis: a member requests a workspace
on their page, an admin provisions, suspends and deletes it in the Admin UI, and a worker
process does the backend's part on a real disk.

The worker listens on its own Redis database and a queue named for this run, so a
developer's worker on the same Redis never takes these tasks. It reaches the test database
through DATABASE_URL; SQLite's default in-memory test database is invisible to another
process, so on SQLite this runs only when the test database is a file.
"""

import os
import stat
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from accounts.models import AuditEvent, Workspace
from aixops.celery import app
from devtools.processes import stop_process
from tests.accounts.workspace_helpers import audit_actions
from tests.factories import client_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/14"  # this suite's own database on the shared Redis
CHANGELIST = "/admin/accounts/workspace/"


def test_database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    return (
        f"postgres://{settings['USER']}{password}@{host}:{settings.get('PORT') or 5432}"
        f"/{settings['NAME']}"
    )


test_database_url.__test__ = False  # a helper, not a test


def _point_app_at(broker: str | None, queue: str | None, eager: bool) -> None:
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


@pytest.fixture
def worker(transactional_db, tmp_path, settings):
    """A `celery worker` process on this run's queue, stopped (and its queue emptied) after."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "the worker is another process and cannot see SQLite's in-memory test database; "
            "CI=true bin/test runs this on PostgreSQL"
        )
    queue = f"aixops-test-workspaces-{uuid.uuid4().hex[:8]}"
    root, archive = tmp_path / "worker-workspaces", tmp_path / "worker-archive"
    settings.WORKSPACE_ROOT, settings.WORKSPACE_ARCHIVE = root, archive
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "WORKSPACE_ROOT": str(root),
        "WORKSPACE_ARCHIVE": str(archive),
        "CONN_MAX_AGE": "0",
        "LOG_FORMAT": "text",
    }
    redis.Redis.from_url(REDIS_URL).flushdb()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "aixops", "worker"),
                *("-Q", queue, "-n", f"{queue}@127.0.0.1", "--pool=solo"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    original = (app.conf.broker_url, app.conf.task_default_queue)
    _point_app_at(REDIS_URL, queue, eager=False)
    try:
        wait_for(lambda: "ready." in log_path.read_text(), "the worker to start", log_path)
        yield log_path
    finally:
        stop_process(process, grace=15)
        _point_app_at(original[0], original[1], eager=True)
        redis.Redis.from_url(REDIS_URL).flushdb()


def wait_for(condition, what: str, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log_path.read_text()[-4000:]}")


def status_of(workspace_id: int) -> tuple[str, str]:
    return tuple(Workspace.objects.filter(pk=workspace_id).values_list("status", "operation")[0])


def test_a_workspace_lives_and_dies_through_a_real_worker(worker, bob, sam, settings):
    client = client_for(sam)
    client_for(bob).post("/accounts/workspace/request/")
    workspace = Workspace.objects.get(owner=bob)

    client.post(
        CHANGELIST,
        {"action": "provision_workspaces", "_selected_action": [workspace.pk], "apply": "1"},
    )
    wait_for(lambda: status_of(workspace.pk) == ("active", ""), "provisioning", worker)
    workspace.refresh_from_db()
    path = settings.WORKSPACE_ROOT / "bob"
    assert workspace.location == str(path) and (path / "README.md").is_file()
    assert f"Task accounts.tasks.run_workspace_operation[{workspace.task_id}]" in (
        worker.read_text()
    )

    # The same task delivered again (a redelivery after a lost ack): it finds nothing queued.
    app.tasks["accounts.tasks.run_workspace_operation"].apply_async(
        args=[workspace.pk, "provision"], task_id=workspace.task_id
    )
    client.post(
        CHANGELIST,
        {"action": "suspend_workspaces", "_selected_action": [workspace.pk], "apply": "1"},
    )
    # The queue is first in, first out on one solo worker: the suspend ran after the repeat.
    wait_for(lambda: status_of(workspace.pk) == ("suspended", ""), "suspension", worker)
    assert stat.S_IMODE(path.stat().st_mode) == 0o2550
    assert AuditEvent.objects.filter(workspace=workspace, action="workspace.ready").count() == 1
    assert "not queued: done already" in worker.read_text()

    client.post(
        CHANGELIST,
        {"action": "delete_workspaces", "_selected_action": [workspace.pk], "apply": "1"},
    )
    wait_for(lambda: status_of(workspace.pk) == ("deleted", ""), "deletion", worker)
    workspace.refresh_from_db()
    assert not path.exists()
    with tarfile.open(workspace.archive) as tar:
        assert "bob/README.md" in tar.getnames()
    assert audit_actions(workspace) == [
        "workspace.request",
        "workspace.provision",
        "workspace.ready",
        "workspace.suspend",
        "workspace.delete",
        "workspace.deleted",
    ]
