"""Celery tasks: thin adapters that call the health services and return a JSON summary."""

import uuid

from celery import chord, group, shared_task
from celery.result import AsyncResult
from django.conf import settings

from aixops.celery import app, broker_connection

from . import notify, prerender, rollups, scans

# What every task of a scan shares: its time limits, and no retry (a lost scan is simply
# the next one; a lost chunk leaves its scan unfinished).
SCAN_TASK = {
    "soft_time_limit": settings.HEALTH_SCAN_SOFT_TIME_LIMIT,
    "time_limit": settings.HEALTH_SCAN_TIME_LIMIT,
    "acks_late": False,
}


@shared_task(bind=True, name="portal.tasks.refresh_health", **SCAN_TASK)
def refresh_health(self, check_ids: list[int] | None = None) -> dict:
    """Probe every enabled check once (or only `check_ids`: a checklist step's "Run
    now"); Flower shows the returned summary as the result. A scan of more than
    HEALTH_SCAN_CHUNK_SIZE checks returns its plan instead, and its `finish_scan` task
    the summary."""
    # The scan's chunks follow it to the queue it came from: workers that take scans
    # take their chunks.
    queue = (self.request.delivery_info or {}).get("routing_key")
    return scans.scan_run(
        task_id=self.request.id or "",
        check_ids=check_ids,
        fan_out=lambda plan: _fan_out(plan, {"queue": queue} if queue else {}),
    )


def _fan_out(plan: scans.ScanPlan, options: dict) -> None:
    """A chord: the chunks in a group, then `finish_scan` with all their outcomes; when
    any chunk fails, `abandon_scan` instead."""
    ids = [str(uuid.uuid4()) for _chunk in plan.chunks]
    chunks = group(
        probe_chunk.s(check_ids, plan.probe_until).set(task_id=task_id, **options)
        for task_id, check_ids in zip(ids, plan.chunks, strict=True)
    )
    finish = finish_scan.s(plan.scan, plan.lock_token, ids).set(**options)
    finish.link_error(abandon_scan.si(plan.scan, plan.lock_token, ids).set(**options))
    chord(chunks)(finish)


@shared_task(name="portal.tasks.probe_chunk", **SCAN_TASK)
def probe_chunk(check_ids: list[int], probe_until: float) -> list[list]:
    """Probe one chunk of a scan; its outcomes go to `finish_scan`."""
    return scans.probe_chunk(check_ids, probe_until=probe_until)


@shared_task(name="portal.tasks.finish_scan", **SCAN_TASK)
def finish_scan(
    chunk_rows: list[list[list]], scan_id: int, lock_token: str, chunk_ids: list[str]
) -> dict:
    """Record a chunked scan; Flower shows the returned summary as the result."""
    try:
        return scans.scan_finish(scan_id, chunk_rows, lock_token=lock_token)
    finally:
        _forget(chunk_ids)


# Not bound: an unbound errback with arguments of its own Celery calls at once, in the
# process that saw the failure (for a lost worker, the worker's main process); a bound
# one it would queue as an old-style errback, given only the failed task's id.
@shared_task(name="portal.tasks.abandon_scan", time_limit=60)
def abandon_scan(scan_id: int, lock_token: str, chunk_ids: list[str]) -> dict:
    """A chunk of the scan failed: never counted as finished."""
    try:
        return scans.scan_abandon(scan_id, lock_token=lock_token)
    finally:
        _forget(chunk_ids)


def _forget(chunk_ids: list[str]) -> None:
    # The chunks' outcomes were for the finishing task only: dropped from the result
    # backend now rather than kept for a day (result_expires) at every scan. Eager
    # tasks (tests, bin/run without a worker) store none.
    if not app.conf.task_always_eager:
        for task_id in chunk_ids:
            AsyncResult(task_id, app=app).forget()


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


@shared_task(name="portal.tasks.prerender_pages", time_limit=300, soft_time_limit=270)
def prerender_pages() -> dict:
    """Render the category pages readers asked for lately for the page state now (queued
    after each scan, catalog write or incident change); Flower shows what it rendered."""
    return prerender.pages_prerender()
