"""Celery tasks: thin adapters that call the health services and return a JSON summary."""

from celery import shared_task
from django.conf import settings

from aixops.celery import broker_connection

from . import rollups, scans


@shared_task(
    bind=True,
    name="portal.tasks.refresh_health",
    soft_time_limit=settings.HEALTH_SCAN_SOFT_TIME_LIMIT,
    time_limit=settings.HEALTH_SCAN_TIME_LIMIT,
    # A lost scan is simply the next one: never retried, never acknowledged twice.
    acks_late=False,
)
def refresh_health(self, check_ids: list[int] | None = None) -> dict:
    """Probe every enabled check once (or only `check_ids`: a checklist step's "Run
    now"); Flower shows the returned summary as the result."""
    return scans.scan_run(task_id=self.request.id or "", check_ids=check_ids)


@shared_task(name="portal.tasks.prune_health", time_limit=600)
def prune_health() -> dict:
    """Drop results older than HEALTH_RETENTION_HOURS, compact old hourly rollups and drop
    rollups older than HEALTH_ROLLUP_RETENTION_DAYS (beat runs this hourly)."""
    return {**scans.results_prune(), **rollups.rollups_prune()}


def queue_scan() -> str:
    """Queue a scan now (the admin's "Scan now"); returns the task id.

    No retries: when the broker is down the caller hears so at once instead of
    hanging an admin request while kombu reconnects.
    """
    with broker_connection() as connection:
        result = refresh_health.apply_async(
            connection=connection, retry=False, expires=settings.HEALTH_SCAN_INTERVAL
        )
    return result.id
