"""Celery's worker processes keep what they loaded out of the garbage collector's
generations, as gunicorn's do, so a full collection during a large task walks only that
task's objects."""

import gc

from celery.signals import worker_process_init

import aixops.celery  # noqa: F401 - connects its receivers


def test_a_worker_process_freezes_what_it_loaded_once_it_starts():
    assert gc.get_freeze_count() == 0
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
