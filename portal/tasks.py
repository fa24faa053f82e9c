"""Celery tasks: thin adapters that call the health services and return a JSON summary."""

from celery import shared_task
from django.conf import settings

from aixops.celery import broker_connection

from . import notify, rollups, scans


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


@shared_task(
    bind=True,
    name="portal.tasks.deliver_alert",
    # Counted on the delivery row (ALERT_DELIVERY_ATTEMPTS); this only bounds Celery's own.
    max_retries=None,
    # A worker that dies mid-send leaves the message to be delivered again; the row's
    # claim keeps that from sending twice.
    acks_late=True,
    time_limit=notify.CLAIM_SECONDS - 60,
    soft_time_limit=notify.CLAIM_SECONDS - 90,
)
def deliver_alert(self, delivery_id: int) -> dict:
    """Send one alert to one channel; retried with growing pauses while the channel
    refuses it, until the delivery's attempts are spent (then it shows as failed)."""
    state = notify.delivery_attempt(delivery_id)
    if state == "pending":
        attempts = self.request.retries + 1
        raise self.retry(countdown=notify.retry_pause(attempts))
    return {"delivery": delivery_id, "state": state or "not ours to send"}


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
