"""The `celery` probe against a real worker on the real Redis, started and then stopped.

The worker runs in a broker namespace of its own (BROKER_NAMESPACE: its own queue and key
prefix, pings included), so no other worker on the tests' Redis answers for it.
"""

import asyncio
import os
import uuid

import pytest
import redis
from django.conf import settings
from kombu import Connection

from devtools.processes import start_worker, stop_process, wait_for
from portal.probes import ProbeSpec, probe_one
from tests.live_worker import log_tail
from tests.subprocesses import TEST_REDIS_URL

pytestmark = pytest.mark.integration


def probe(target: str, **options):
    spec = ProbeSpec(1, "celery", target, 3.0, **options)
    return asyncio.run(probe_one(spec, deny=settings.HEALTH_CHECK_DENY_NETWORKS))


def backlog(namespace: str, queue: str, count: int) -> None:
    """`count` messages waiting in `queue`, which no worker consumes."""
    options = {"global_keyprefix": f"{namespace}:"}
    with Connection(TEST_REDIS_URL, transport_options=options) as connection:
        waiting = connection.SimpleQueue(queue)
        for number in range(count):
            waiting.put({"n": number})
        waiting.close()


def test_workers_answer_then_none_does_once_stopped(tmp_path):
    namespace = f"aixops-test-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": TEST_REDIS_URL,
        "CELERY_RESULT_BACKEND": TEST_REDIS_URL,
        "BROKER_NAMESPACE": namespace,
        "LOG_FORMAT": "text",
    }
    own = {"queue": namespace, "key_prefix": f"{namespace}:"}
    process = start_worker(queue=namespace, env=env, log_path=log_path)
    try:
        wait_for("the worker", lambda: "ready." in log_path.read_text(), explain=log_tail(log_path))
        # With the checks' default latency threshold: waiting out the ping's window is
        # not slowness.
        answered = probe(TEST_REDIS_URL, **own, max_queue_length=10, degraded_after_ms=1000)
        backlog(namespace, "backlog", 3)
        piling_up = probe(
            TEST_REDIS_URL, queue="backlog", key_prefix=f"{namespace}:", max_queue_length=2
        )
    finally:
        stop_process(process, grace=15)
    silent = probe(TEST_REDIS_URL, **own)
    # The namespace's keys only: other test runs share this Redis database.
    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)

    assert (answered.outcome, answered.detail) == (
        "up",
        f"1 worker ({namespace}@127.0.0.1), 0 waiting in {namespace}",
    )
    assert (piling_up.outcome, piling_up.detail) == (
        "degraded",
        f"1 worker ({namespace}@127.0.0.1), 3 waiting in backlog, more than 2 waiting",
    )
    assert (silent.outcome, silent.detail) == (
        "down",
        f"no worker answered a ping within 1 s (0 waiting in {namespace})",
    )


def test_an_unreachable_broker_is_not_the_same_as_no_worker(refused_port):
    outcome = probe(f"redis://127.0.0.1:{refused_port}/0", queue="celery")
    assert outcome.outcome == "down"
    assert outcome.detail.startswith("broker unreachable: ")
    assert "connection refused" in outcome.detail.lower()
