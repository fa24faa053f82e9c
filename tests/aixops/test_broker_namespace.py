"""Two instances on one machine share its Redis but not their tasks: each keeps to the
namespace bin/run names from its DATA_DIR (its queue, broker and result keys, scan lock)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import redis

from tests.subprocesses import TEST_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]

# One instance queues a task as its web process would, or reads its own queue as its worker.
SEND = """
import django
django.setup()
from django.conf import settings
from aixops.celery import app
with app.connection_for_write() as connection:
    app.send_task("aixops.tasks.send_outbox", connection=connection)
print(settings.CELERY_TASK_DEFAULT_QUEUE, settings.HEALTH_LOCK_KEY)
"""
RECEIVE = """
import django
django.setup()
from aixops.celery import app
with app.connection_for_read() as connection:
    queue = connection.SimpleQueue(app.conf.task_default_queue)
    try:
        message = queue.get(timeout=1)
    except queue.Empty:
        print("nothing")
    else:
        print(message.headers["task"])
        message.ack()
    queue.close()
"""


def broker_namespace(data_dir: str) -> str:
    """What bin/run exports as BROKER_NAMESPACE for this DATA_DIR."""
    return subprocess.run(
        ["bash", "-c", 'source bin/lib/bootstrap.sh && broker_namespace "$1"', "-", data_dir],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()


def instance(namespace: str, script: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aixops.settings",
        "CELERY_BROKER_URL": TEST_REDIS_URL,
        "BROKER_NAMESPACE": namespace,
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_each_data_dir_has_its_own_namespace_whatever_its_spelling(tmp_path):
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    (tmp_path / "link").symlink_to(one)
    name = broker_namespace(str(one))
    assert re.fullmatch(r"aixops-[0-9a-f]{10}", name)
    assert broker_namespace(f"{one}/") == broker_namespace(str(tmp_path / "link")) == name
    assert broker_namespace(str(other)) != name


def test_an_instance_never_takes_another_instances_task(tmp_path):
    first, second = broker_namespace(str(tmp_path / "a")), broker_namespace(str(tmp_path / "b"))
    client = redis.Redis.from_url(TEST_REDIS_URL)
    default_queue = client.llen("celery")
    try:
        assert instance(first, SEND) == f"{first} {first}:health:scan-lock"
        assert client.llen(f"{first}:{first}") == 1  # its queue, under its own prefix
        assert client.llen("celery") == default_queue
        assert instance(second, RECEIVE) == "nothing"
        assert instance(first, RECEIVE) == "aixops.tasks.send_outbox"
    finally:
        for namespace in (first, second):
            for key in client.scan_iter(f"{namespace}:*"):
                client.delete(key)
