"""A real worker and a real Flower: a scan queued on the broker runs on the worker, and
Flower shows the task with its summary and lists the worker.

Everything runs against the machine's Redis, in the tests' own database (TEST_REDIS_URL)
and on a queue named for this run, so a developer's worker cannot take the task. The
worker is another process, so the test's data must be committed (transaction=True) and
its database reachable from outside: a file for SQLite (settings), the test database's
name for PostgreSQL.
"""

import ast
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from aixops.celery import app as celery_app
from devtools.processes import free_port, start_worker, stop_process, wait_for
from portal.models import HealthCheck, Scan, Service
from tests.subprocesses import TEST_REDIS_URL, child_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TASK = "portal.tasks.refresh_health"


def get_json(url: str):
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.fixture
def run_id():
    return uuid.uuid4().hex[:10]


@pytest.fixture
def celery_env(run_id):
    """The environment of this test's worker and Flower: its own queue, broker DB, lock."""
    queue = f"aixops-it-{run_id}"
    env = child_env(
        CELERY_BROKER_URL=TEST_REDIS_URL,
        CELERY_RESULT_BACKEND=TEST_REDIS_URL,
        HEALTH_LOCK_URL=settings.HEALTH_LOCK_URL,
        HEALTH_LOCK_KEY=settings.HEALTH_LOCK_KEY,
        FLOWER_UNAUTHENTICATED_API="true",
        PYTHONUNBUFFERED="1",
    )
    yield queue, env
    # The broker's bookkeeping for this run's queue.
    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


@pytest.fixture
def flower(celery_env, tmp_path):
    _queue, env = celery_env
    port = free_port()
    log = (tmp_path / "flower.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "aixops", "flower",
         "--address=127.0.0.1", f"--port={port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(
            "Flower to answer",
            lambda: (
                get_json(f"{url}/api/workers") is not None
                or _died(process, tmp_path / "flower.log")
            ),
            timeout=60,
        )
        yield url
    finally:
        stop_process(process, grace=10)
        log.close()


@pytest.fixture
def worker(celery_env, run_id, tmp_path):
    queue, env = celery_env
    hostname = f"{queue}@127.0.0.1"
    process = start_worker(
        queue=queue, env=env, log_path=tmp_path / "worker.log", pool="prefork"
    )
    try:
        yield hostname, process
    finally:
        stop_process(process, grace=10)


def _died(process: subprocess.Popen, log: Path):
    if process.poll() is not None:
        pytest.fail(f"process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
    return False


def test_a_queued_scan_runs_on_the_worker_and_flower_shows_it(
    celery_env, flower, worker, http_server, tmp_path, tasks_go_to_the_broker
):
    call_command("loaddata", "catalog", verbosity=0)
    HealthCheck.objects.create(
        slug="gitlab-it", service=Service.objects.get(slug="gitlab"), target=http_server.url("/ok")
    )
    queue, _env = celery_env
    hostname, process = worker

    workers = wait_for(
        "Flower to list the worker",
        lambda: (
            (get_json(f"{flower}/api/workers?refresh=1") or {}).get(hostname)
            or _died(process, tmp_path / "worker.log")
        ),
        timeout=60,
        every=1,
    )
    assert workers is not None

    with celery_app.connection_for_write(TEST_REDIS_URL) as connection:
        sent = celery_app.send_task(TASK, queue=queue, connection=connection)

    def finished_task():
        tasks = get_json(f"{flower}/api/tasks?taskname={TASK}") or {}
        task = tasks.get(sent.id)
        return task if task and task.get("state") in ("SUCCESS", "FAILURE") else None

    task = wait_for("Flower to show the task finished", finished_task, timeout=60)
    assert task["state"] == "SUCCESS", task
    assert task["name"] == TASK
    assert task["worker"] == hostname
    summary = ast.literal_eval(task["result"])
    assert summary["checked"] == 1 and summary["up"] == 1
    assert set(summary) >= {"checked", "up", "degraded", "down", "duration"}

    scan = Scan.objects.get(pk=summary["scan"])
    assert (scan.state, scan.task_id) == ("finished", sent.id)
