"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from celery.signals import worker_process_init
from django.conf import settings
from kombu import Connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aixops.settings")

app = Celery("aixops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# How many allocations a worker process makes between collections of the youngest
# generation (CPython's default is 700). A scan's probes open and close thousands of
# connections, and asyncio leaves each closed transport in a reference cycle: at the
# default, those collections took a large share of the probes' CPU (bench/scan.py).
WORKER_GC_THRESHOLD = 10_000


@worker_process_init.connect
def tune_the_collector(**kwargs) -> None:
    """Keep what a worker process loaded (Django, the tasks, their modules) out of the
    garbage collector's generations, as gunicorn's workers do
    (aixops/gunicorn.conf.py): a full collection during a scan's finishing task, which
    builds thousands of objects, then walks only those, not everything loaded. And
    collect the youngest generation less often (WORKER_GC_THRESHOLD)."""
    gc.freeze()
    gc.set_threshold(WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])


# Seconds to reach the broker from a request that must answer either way.
BROKER_CONNECT_TIMEOUT = 2


@contextmanager
def broker_connection() -> Iterator[Connection]:
    """A connection of its own to the broker the settings name now, which fails at once
    when the broker is unreachable: a request that queues through it hears so instead
    of hanging while kombu reconnects. Publish on it with `retry=False`."""
    with app.connection_for_write(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_CONNECT_TIMEOUT,  # AMQP; Redis reads the transport option
        transport_options={"socket_connect_timeout": BROKER_CONNECT_TIMEOUT},
    ) as connection:
        connection.ensure_connection(max_retries=0)
        yield connection
