"""Celery tasks: thin adapters that call the health services and return a JSON summary."""

from celery import shared_task
from django.conf import settings

from . import scans


@shared_task(
    bind=True,
    name="portal.tasks.refresh_health",
    soft_time_limit=settings.HEALTH_SCAN_SOFT_TIME_LIMIT,
    time_limit=settings.HEALTH_SCAN_TIME_LIMIT,
    # A lost scan is simply the next one: never retried, never acknowledged twice.
    acks_late=False,
)
def refresh_health(self) -> dict:
    """Probe every enabled check once; Flower shows the returned summary as the result."""
    return scans.scan_run(task_id=self.request.id or "")


@shared_task(name="portal.tasks.prune_health", time_limit=600)
def prune_health() -> dict:
    """Drop results older than HEALTH_RETENTION_DAYS (beat runs this daily)."""
    return scans.results_prune()
