"""Health scans: probe every enabled check in one pass, record it, keep history trimmed.

`scan_run` is what the Celery task and `manage.py refresh_health` both call. A Redis
lock keeps two scans from overlapping (beat firing while a slow scan still runs, or
an operator's "Scan now" on top of beat); the one that finds the lock taken returns
`{"skipped": ...}` and does nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from datetime import datetime, timedelta

import redis
import redis.lock
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import rollups
from .alerts import alerts_record
from .models import CheckResult, HealthCheck, HealthStatus, Scan
from .models.health import parse_status_codes, shown_status
from .probes import ProbeOutcome, ProbeSpec, probe_all

log = logging.getLogger(__name__)

# The fields a scan writes on each check; everything else on a check is admin-owned.
CHECK_STATE_FIELDS = [
    "status",
    "consecutive_failures",
    "consecutive_successes",
    "latency_ms",
    "detail",
    "checked_at",
    "uptime_24h",
    "uptime_7d",
    "uptime_base_hour",
    "uptime_base",
    "recent_latencies",
    "reported_status",
]


def scan_lock() -> redis.lock.Lock:
    """The Redis lock that keeps scans from overlapping (redis-py's Lock: SET NX with an
    expiry, released only by its holder's token).

    The expiry outlives the scan task's hard time limit, so the lock only lapses when the
    worker holding it died without releasing it.
    """
    client = redis.Redis.from_url(
        settings.HEALTH_LOCK_URL, socket_connect_timeout=5, socket_timeout=5
    )
    return client.lock(settings.HEALTH_LOCK_KEY, timeout=settings.HEALTH_LOCK_SECONDS)


class ScanOvertaken(Exception):
    """The scan lost its claim (another scan marked it abandoned); nothing is written."""


def scan_run(*, task_id: str = "", check_ids: list[int] | None = None) -> dict:
    """Run one scan unless another is running; return the summary or `{"skipped": ...}`.

    With `check_ids`, the scan probes only those of the enabled checks (a checklist
    step's "Run now"); skipped while a full scan runs, which probes them anyway.
    """
    lock = scan_lock()
    if not lock.acquire(blocking=False):
        return {"skipped": "another scan is running"}
    try:
        return _scan(task_id=task_id, check_ids=check_ids).summary()
    finally:
        # A lock that lapsed (the scan outlived it) belongs to nobody, or to the next
        # scan: redis-py releases only a lock still holding this one's token.
        with contextlib.suppress(redis.exceptions.LockNotOwnedError):
            lock.release()


def _scan(*, task_id: str, check_ids: list[int] | None) -> Scan:
    started = time.perf_counter()
    # Holding the lock, no other scan can be alive: a running one was cut off (its
    # worker killed) and will never finish. Mark it so, rather than leave it running.
    Scan.objects.filter(state=Scan.State.RUNNING).update(state=Scan.State.ABANDONED)
    scan = Scan.objects.create(task_id=task_id)
    checks = HealthCheck.objects.filter(enabled=True).order_by("pk")
    if check_ids is not None:
        checks = checks.filter(pk__in=check_ids)
    checks = list(checks)
    outcomes = asyncio.run(
        probe_all(
            [probe_spec(check) for check in checks],
            concurrency=settings.HEALTH_SCAN_CONCURRENCY,
            deadline=settings.HEALTH_SCAN_DEADLINE,
            deny=settings.HEALTH_CHECK_DENY_NETWORKS,
        )
    )
    _record(scan, checks, outcomes, duration=time.perf_counter() - started)
    scan.refresh_from_db()
    return scan


def probe_spec(check: HealthCheck) -> ProbeSpec:
    """What the prober needs from a check, resolved against the settings."""
    http = check.kind == HealthCheck.Kind.HTTP
    return ProbeSpec(
        key=check.pk,
        kind=check.kind,
        target=check.resolved_target(),
        timeout=check.timeout,
        method=check.method,
        accepted=tuple(parse_status_codes(check.accepted_statuses)) if http else (),
        degraded_after_ms=check.degraded_after_ms,
        conditions=tuple(check.parsed_conditions()) if http else (),
        warn_days=check.warn_days,
        expected=check.resolved_expected(),
        client_id=check.client_id,
        redirect_uri=check.resolved_redirect_uri(),
        # Tokens the provider signs must be readable with the leeway the portal allows.
        max_clock_skew=settings.OIDC_LEEWAY,
        queue=check.resolved_queue(),
        max_queue_length=check.max_queue_length,
        key_prefix=check.broker_key_prefix(),
    )


@transaction.atomic
def _record(
    scan: Scan, checks: list[HealthCheck], outcomes: list[ProbeOutcome], *, duration: float
) -> None:
    """Write a scan's results, its checks' new state and its finish: all, or nothing."""
    now = timezone.now()
    # Checks deleted while we probed are left out; the rest are locked until we commit
    # (on PostgreSQL), so none is deleted between here and the write below.
    in_maintenance = dict(
        HealthCheck.objects.select_for_update()
        .filter(pk__in=[check.pk for check in checks])
        .with_maintenance(now)
        .values_list("pk", "in_maintenance")
    )
    checks = [check for check in checks if check.pk in in_maintenance]
    by_key = {outcome.key: outcome for outcome in outcomes}
    counts: Counter[str] = Counter()
    results = []
    for check in checks:
        probe = by_key[check.pk]
        status = check.record(
            probe.outcome, latency_ms=probe.latency_ms, detail=probe.detail, at=now
        )
        shown = shown_status(status, in_maintenance=in_maintenance[check.pk])
        counts[shown] += 1
        results.append(
            CheckResult(
                scan=scan,
                health_check=check,
                checked_at=now,
                outcome=probe.outcome,
                status=shown,
                latency_ms=probe.latency_ms,
                detail=probe.detail[:500],
            )
        )
    CheckResult.objects.bulk_create(results, batch_size=500)
    # In this transaction: the alerts (and their deliveries) commit with the status
    # changes they tell of, or not at all. Sending waits for the commit.
    alerts_record(scan, checks, in_maintenance, at=now)
    # Figures from the rollups, never from the results table: the same cost whatever
    # the history.
    rollups.set_uptimes(checks, rollups.add_results(results), now)
    # An upsert on the primary key rather than bulk_update(): one INSERT … ON CONFLICT
    # DO UPDATE of the state columns only, where bulk_update() builds a CASE per column
    # per row, which grows with the checks (bench/scan.py). Admin edits to a
    # check's configuration made during the scan are kept: those columns are not set.
    HealthCheck.objects.bulk_create(
        checks,
        batch_size=250,
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=CHECK_STATE_FIELDS,
    )
    # Claim the finish: if another scan marked this one abandoned meanwhile (our lock
    # lapsed), roll everything back rather than show two scans' worth of results.
    finished = Scan.objects.filter(pk=scan.pk, state=Scan.State.RUNNING).update(
        state=Scan.State.FINISHED,
        finished_at=now,
        checked=len(checks),
        up=counts[HealthStatus.UP],
        degraded=counts[HealthStatus.DEGRADED],
        down=counts[HealthStatus.DOWN],
        maintenance=counts[HealthStatus.MAINTENANCE],
        unknown=counts[HealthStatus.UNKNOWN],
        duration_ms=round(duration * 1000),
    )
    if not finished:
        raise ScanOvertaken(f"scan {scan.pk} was marked abandoned before it finished")


def results_prune(*, now: datetime | None = None) -> dict:
    """Delete results and scans older than HEALTH_RETENTION_HOURS, in batches that never
    hold a scan's write up for long (their history lives on in the rollups); the latest
    finished scan stays, so that a long outage still shows its last known state."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.HEALTH_RETENTION_HOURS)
    keep = Scan.objects.latest_finished()
    keep_id = keep.pk if keep else None
    results = rollups.delete_in_batches(
        CheckResult.objects.filter(checked_at__lt=cutoff).exclude(scan_id=keep_id)
    )
    scans = rollups.delete_in_batches(
        Scan.objects.filter(started_at__lt=cutoff).exclude(pk=keep_id)
    )
    return {"results_deleted": results, "scans_deleted": scans, "before": cutoff.isoformat()}
