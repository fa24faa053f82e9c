"""Health scans: probe every enabled check in one pass, record it, keep history trimmed.

`scan_run` is what the Celery task and `manage.py refresh_health` both call. A Redis
lock keeps two scans from overlapping (beat firing while a slow scan still runs, or
an operator's "Scan now" on top of beat); the one that finds the lock taken returns
`{"skipped": ...}` and does nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from aixops.celery import broker_connection

from .models import CheckResult, HealthCheck, HealthStatus, MaintenanceWindow, Scan
from .models.health import parse_status_codes
from .probes import ProbeOutcome, ProbeSpec, probe_all

log = logging.getLogger(__name__)

# Compare-and-delete: release the lock only if it still holds our token, so a scan
# whose lock expired (and was taken by the next scan) cannot free someone else's.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

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
    "recent_latencies",
]


class ScanLock:
    """A Redis lock: SET NX EX to take it, compare-and-delete (Lua) to give it back.

    The expiry outlives the scan task's hard time limit, so the lock only lapses when
    the worker holding it died without releasing it.
    """

    def __init__(self, url: str, key: str, seconds: int):
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self.key = key
        self.seconds = seconds

    @classmethod
    def from_settings(cls) -> ScanLock:
        return cls(settings.HEALTH_LOCK_URL, settings.HEALTH_LOCK_KEY, settings.HEALTH_LOCK_SECONDS)

    def acquire(self) -> str | None:
        """A token if the lock was free (and is now ours), else None."""
        token = uuid.uuid4().hex
        if self.client.set(self.key, token, nx=True, ex=self.seconds):
            return token
        return None

    def release(self, token: str) -> bool:
        """Free the lock if it is still ours; True if it was."""
        return bool(self.client.eval(_RELEASE, 1, self.key, token))


class ScanOvertaken(Exception):
    """The scan lost its claim (another scan marked it abandoned); nothing is written."""


def scan_run(*, task_id: str = "", lock: ScanLock | None = None) -> dict:
    """Run one scan unless another is running; return the summary or `{"skipped": ...}`."""
    lock = lock or ScanLock.from_settings()
    token = lock.acquire()
    if token is None:
        return {"skipped": "another scan is running"}
    try:
        return _scan(task_id=task_id).summary()
    finally:
        lock.release(token)


def _scan(*, task_id: str) -> Scan:
    started = time.perf_counter()
    # Holding the lock, no other scan can be alive: a running one was cut off (its
    # worker killed) and will never finish. Mark it so, rather than leave it running.
    Scan.objects.filter(state=Scan.State.RUNNING).update(state=Scan.State.ABANDONED)
    scan = Scan.objects.create(task_id=task_id)
    checks = list(HealthCheck.objects.filter(enabled=True).order_by("pk"))
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
    )


@transaction.atomic
def _record(
    scan: Scan, checks: list[HealthCheck], outcomes: list[ProbeOutcome], *, duration: float
) -> None:
    """Write a scan's results, its checks' new state and its finish: all, or nothing."""
    now = timezone.now()
    # Checks deleted while we probed are left out; the rest are locked until we commit
    # (on PostgreSQL), so none is deleted between here and the write below.
    alive = set(
        HealthCheck.objects.select_for_update()
        .filter(pk__in=[check.pk for check in checks])
        .values_list("pk", flat=True)
    )
    checks = [check for check in checks if check.pk in alive]
    by_key = {outcome.key: outcome for outcome in outcomes}
    servicing = set(MaintenanceWindow.objects.active(now).values_list("service_id", flat=True))
    counts: Counter[str] = Counter()
    results = []
    for check in checks:
        probe = by_key[check.pk]
        status = check.record(
            probe.outcome, latency_ms=probe.latency_ms, detail=probe.detail, at=now
        )
        shown = HealthStatus.MAINTENANCE if check.service_id in servicing else status
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
    uptimes = uptime_by_check(now)
    for check in checks:
        check.uptime_24h, check.uptime_7d = uptimes.get(check.pk, (None, None))
    # An upsert on the primary key rather than bulk_update(): one INSERT … ON CONFLICT
    # DO UPDATE of the state columns only, where bulk_update() builds a CASE per column
    # per row and took over a second for 500 checks (bench/scan.py). Admin edits to a
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


def uptime_by_check(now: datetime) -> dict[int, tuple[float | None, float | None]]:
    """Each check's share of results not down over 24 h and 7 d, in one GROUP BY query.

    Maintenance and not-yet-settled results count as up: they are not outages.
    """
    day, week = now - timedelta(hours=24), now - timedelta(days=7)
    down = Q(status=HealthStatus.DOWN)
    rows = (
        CheckResult.objects.filter(checked_at__gte=week)
        .order_by()
        .values("health_check_id")
        .annotate(
            week_total=Count("pk"),
            week_down=Count("pk", filter=down),
            day_total=Count("pk", filter=Q(checked_at__gte=day)),
            day_down=Count("pk", filter=down & Q(checked_at__gte=day)),
        )
    )

    def share(total: int, failed: int) -> float | None:
        return round(100 * (total - failed) / total, 2) if total else None

    return {
        row["health_check_id"]: (
            share(row["day_total"], row["day_down"]),
            share(row["week_total"], row["week_down"]),
        )
        for row in rows
    }


def scan_queue() -> str:
    """Queue a scan now (the admin's "Scan now"); returns the task id.

    No retries: when the broker is down the caller hears so at once instead of
    hanging an admin request while kombu reconnects.
    """
    from .tasks import refresh_health

    with broker_connection() as connection:
        result = refresh_health.apply_async(
            connection=connection, retry=False, expires=settings.HEALTH_SCAN_INTERVAL
        )
    return result.id


def results_prune(*, now: datetime | None = None) -> dict:
    """Delete results and scans older than HEALTH_RETENTION_DAYS; the latest finished scan
    stays, so that a long outage still shows its last known state."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.HEALTH_RETENTION_DAYS)
    keep = Scan.objects.latest_finished()
    keep_id = keep.pk if keep else None
    results, _ = CheckResult.objects.filter(checked_at__lt=cutoff).exclude(scan_id=keep_id).delete()
    _, deleted = Scan.objects.filter(started_at__lt=cutoff).exclude(pk=keep_id).delete()
    return {
        "results_deleted": results + deleted.get(CheckResult._meta.label, 0),
        "scans_deleted": deleted.get(Scan._meta.label, 0),
        "before": cutoff.isoformat(),
    }
