"""A scan larger than a chunk, on a real worker: its chunks run as tasks of their own, one
finishing task records them all, and a chunk that dies leaves the scan unfinished.

The worker (prefork, two processes) listens on the tests' own Redis database and a queue
named for this run; the chunks follow the scan to that queue. It is another process, so
the test's data is committed (transaction=True) and its database reachable from outside.
"""

import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from aixops.celery import app as celery_app
from devtools.processes import start_worker, stop_process, wait_for
from portal.models import CheckResult, HealthCheck, Scan, Service
from portal.scans import scan_lock
from tests.live_worker import log_tail
from tests.subprocesses import TEST_REDIS_URL, child_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FINISHED = re.compile(r"portal\.tasks\.finish_scan\[[^]]+\] succeeded")
CHUNK_DONE = re.compile(r"portal\.tasks\.probe_chunk\[([^]]+)\] succeeded")


@pytest.fixture
def worker(tmp_path):
    """A prefork worker of two processes on this run's queue, chunks of two checks."""
    queue = f"aixops-chunks-{uuid.uuid4().hex[:10]}"
    log_path = tmp_path / "worker.log"
    env = child_env(
        CELERY_BROKER_URL=TEST_REDIS_URL,
        CELERY_RESULT_BACKEND=TEST_REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        HEALTH_LOCK_URL=settings.HEALTH_LOCK_URL,
        HEALTH_LOCK_KEY=settings.HEALTH_LOCK_KEY,
        HEALTH_SCAN_CHUNK_SIZE="2",
        CONN_MAX_AGE="0",
        LOG_FORMAT="text",
    )
    process = start_worker(queue=queue, env=env, log_path=log_path, pool="prefork", concurrency=2)
    try:
        wait_for(
            "the worker to start",
            lambda: "ready." in log_path.read_text(),
            timeout=60,
            explain=log_tail(log_path),
        )
        yield queue, process, log_path
    finally:
        stop_process(process, grace=10)
        client = redis.Redis.from_url(TEST_REDIS_URL)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)


def add_checks(targets: list[str], **fields) -> None:
    call_command("loaddata", "catalog", verbosity=0)
    gitlab = Service.objects.get(slug="gitlab")
    HealthCheck.objects.bulk_create(
        HealthCheck(slug=f"chunked-{n}", service=gitlab, target=target, **fields)
        for n, target in enumerate(targets)
    )


def queue_scan(queue: str) -> str:
    with celery_app.connection_for_write(TEST_REDIS_URL) as connection:
        return celery_app.send_task(
            "portal.tasks.refresh_health", queue=queue, connection=connection
        ).id


def pool_processes(worker_pid: int) -> list[int]:
    """The worker's pool processes: its children."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so read after its ")".
        if int(stat.rpartition(")")[2].split()[1]) == worker_pid:
            children.append(int(entry.name))
    return children


def settled_scan():
    scan = Scan.objects.first()
    return scan if scan and scan.state != Scan.State.RUNNING else None


def test_a_scan_of_five_checks_in_three_chunks_finishes_once_with_every_result(worker, http_server):
    queue, _process, log_path = worker
    add_checks([http_server.url("/ok")] * 4 + [http_server.url("/error")])
    task_id = queue_scan(queue)

    scan = wait_for("the scan to settle", settled_scan, timeout=60, explain=log_tail(log_path))
    assert (scan.state, scan.task_id, scan.checked, scan.up, scan.unknown) == (
        "finished",
        task_id,
        5,
        4,
        1,
    )
    assert Scan.objects.count() == 1
    assert CheckResult.objects.filter(scan=scan).count() == 5
    wait_for("the finishing task to return", lambda: FINISHED.search(log_path.read_text()))
    chunks = set(CHUNK_DONE.findall(log_path.read_text()))
    assert len(chunks) == 3
    # Their outcomes were for the finishing task only: not left in the result backend.
    backend = redis.Redis.from_url(TEST_REDIS_URL)
    assert not any(backend.exists(f"celery-task-meta-{chunk}") for chunk in chunks)
    assert scan_lock().acquire(blocking=False)  # given back by the finishing task


def test_a_chunk_whose_worker_process_dies_leaves_the_scan_abandoned(
    worker, http_server, tasks_go_to_the_broker
):
    queue, process, log_path = worker
    add_checks([http_server.url("/ok"), http_server.url("/hang"), http_server.url("/ok")],
               timeout=30)  # fmt: skip
    queue_scan(queue)
    wait_for(
        "both chunks to start",
        lambda: log_path.read_text().count("portal.tasks.probe_chunk[") >= 2,
        timeout=60,
        explain=log_tail(log_path),
    )
    time.sleep(0.5)  # the hanging probe is under way
    # As the OOM killer or a redeploy would: the pool processes die mid-chunk.
    for pid in pool_processes(process.pid):
        os.kill(pid, signal.SIGKILL)

    scan = wait_for("the scan to settle", settled_scan, timeout=60, explain=log_tail(log_path))
    assert (scan.state, scan.finished_at, scan.checked) == ("abandoned", None, 0)
    assert not CheckResult.objects.exists()
    assert HealthCheck.objects.filter(checked_at__isnull=False).count() == 0
    # abandon_scan freed the lock at once, rather than leave it to lapse, and dropped
    # what the chunk that did finish had stored.
    assert scan_lock().acquire(blocking=False)
    backend = redis.Redis.from_url(TEST_REDIS_URL)
    finished = CHUNK_DONE.findall(log_path.read_text())
    assert not any(backend.exists(f"celery-task-meta-{chunk}") for chunk in finished)
