"""Celery tasks of what every room shares: sending the outbox."""

from celery import shared_task

from . import outbox


@shared_task(name="aixops.tasks.send_outbox", time_limit=120, soft_time_limit=100)
def send_outbox() -> dict:
    """Every OUTBOX_INTERVAL (beat): send the tasks the broker was away for, forget old ones."""
    return {**outbox.send(), "forgotten": outbox.prune()}
