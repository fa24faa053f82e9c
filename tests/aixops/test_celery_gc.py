"""Celery's worker processes keep what they loaded out of the garbage collector's
generations, as gunicorn's do, so a full collection during a large task walks only that
task's objects; and they collect the youngest generation less often, as a scan's probes
leave cycles behind by the thousand."""

import gc

from celery.signals import worker_process_init

from aixops.celery import WORKER_GC_THRESHOLD


def test_a_worker_process_tunes_the_collector_once_it_starts():
    threshold = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    assert threshold[0] < WORKER_GC_THRESHOLD
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (WORKER_GC_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert gc.get_freeze_count() == 0
