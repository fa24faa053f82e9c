"""Health scans: probe every enabled check in one pass, record it, keep history trimmed.

`scan_run` is what the Celery task and `manage.py refresh_health` both call. A Redis
lock keeps two scans from overlapping (beat firing while a slow scan still runs, or
an operator's "Scan now" on top of beat); the one that finds the lock taken returns
`{"skipped": ...}` and does nothing else.

A scan of up to HEALTH_SCAN_CHUNK_SIZE checks runs in its task. A larger one, queued as a
task, is split: its chunks are probed by tasks of their own on whichever workers are free
(`probe_chunk`), and one finishing task records every result at once (`scan_finish`), so
that workers on more machines scan more checks within the same deadline. A chunk that
dies leaves the scan unfinished (`scan_abandon`), never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import redis
import redis.lock
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from . import json_rows, rollups
from .alerts import alerts_record
from .models import CheckResult, HealthCheck, HealthStatus, Scan
from .models.health import SPARKLINE_POINTS, parse_status_codes, shown_status
from .probes import ProbeOutcome, ProbeSpec, probe_all
from .state_cache import page_state_moved

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
    "sparkline_points",
    "sparkline_peak_ms",
    "reported_status",
]
# The fields of a check's result in a scan that are its own: its scan and time are every
# result's of the scan.
RESULT_FIELDS = ["health_check", "outcome", "status", "latency_ms", "detail"]


class ResultRow(NamedTuple):
    """A check's result in a scan (a CheckResult row) as `_record` writes it: its
    RESULT_FIELDS by their column attributes and its time, as json_rows.insert and
    rollups.add_results read them. A scan writes one per check, and a model instance each
    cost more than the rest of the finishing write together."""

    health_check_id: int
    checked_at: datetime
    outcome: str
    status: str
    latency_ms: float | None
    detail: str


def scan_lock(token: str | None = None) -> redis.lock.Lock:
    """The Redis lock that keeps scans from overlapping (redis-py's Lock: SET NX with an
    expiry, released only by its holder's token).

    The expiry outlives the scan task's hard time limit, so the lock only lapses when the
    worker holding it died without releasing it. With `token`, the lock as held by the
    scan that acquired it with that token: how a chunked scan's finishing task, in
    another process, gives it back.
    """
    client = redis.Redis.from_url(
        settings.HEALTH_LOCK_URL, socket_connect_timeout=5, socket_timeout=5
    )
    lock = client.lock(settings.HEALTH_LOCK_KEY, timeout=settings.HEALTH_LOCK_SECONDS)
    if token is not None:
        lock.local.token = token.encode()
    return lock


def _release(lock: redis.lock.Lock) -> None:
    # A lock that lapsed (the scan outlived it) belongs to nobody, or to the next
    # scan: redis-py releases only a lock still holding this one's token.
    with contextlib.suppress(redis.exceptions.LockNotOwnedError):
        lock.release()


class ScanOvertaken(Exception):
    """The scan lost its claim (another scan marked it abandoned); nothing is written."""


@dataclass(frozen=True)
class ScanPlan:
    """A scan too large for one task: its row, its checks in chunks (one task each), the
    token of the lock it holds, and the Unix time by which every chunk stops probing."""

    scan: int
    chunks: list[list[int]]
    lock_token: str
    probe_until: float

    def summary(self) -> dict:
        return {
            "scan": self.scan,
            "checks": sum(len(chunk) for chunk in self.chunks),
            "chunks": len(self.chunks),
        }


def scan_run(
    *,
    task_id: str = "",
    check_ids: list[int] | None = None,
    fan_out: Callable[[ScanPlan], object] | None = None,
) -> dict:
    """Run one scan unless another is running; return the summary or `{"skipped": ...}`.

    With `check_ids`, the scan probes only those of the enabled checks (a checklist
    step's "Run now"); skipped while a full scan runs, which probes them anyway.

    With `fan_out` (the Celery task gives it), a scan of more than HEALTH_SCAN_CHUNK_SIZE
    checks is planned here and handed over: chunks probed by as many tasks
    (`probe_chunk`), then recorded in one transaction by a finishing one (`scan_finish`),
    which returns the summary and gives the lock back. Its plan's summary is returned.
    """
    token = uuid.uuid4().hex
    lock = scan_lock()
    if not lock.acquire(blocking=False, token=token):
        return {"skipped": "another scan is running"}
    handed_over = False
    try:
        enabled = _enabled_checks(check_ids)
        # Only what planning needs: the chunks load their own checks.
        planned = list(enabled.values_list("pk", "latency_ms"))
        size = settings.HEALTH_SCAN_CHUNK_SIZE
        if fan_out is None or len(planned) <= size:
            return _scan(task_id=task_id, checks=list(enabled)).summary()
        # Dealt in turn, as cards are, in the order they are probed in, so that every
        # chunk gets its share of the slow checks, and no chunk (so no scan) waits on a
        # cluster of them.
        planned.sort(key=lambda row: _slowest_first(row[1]))
        count = math.ceil(len(planned) / size)
        plan = ScanPlan(
            scan=_begin(task_id).pk,
            chunks=[[pk for pk, _latency in planned[start::count]] for start in range(count)],
            lock_token=token,
            probe_until=time.time() + settings.HEALTH_SCAN_DEADLINE,
        )
        fan_out(plan)
        handed_over = True
        return plan.summary()
    finally:
        if not handed_over:
            _release(lock)


def _enabled_checks(check_ids: list[int] | None) -> QuerySet[HealthCheck]:
    """The enabled checks (only `check_ids` of them if given), in the order of their ids."""
    checks = HealthCheck.objects.filter(enabled=True).order_by("pk")
    if check_ids is not None:
        checks = checks.filter(pk__in=check_ids)
    return checks


def _begin(task_id: str) -> Scan:
    # Holding the lock, no other scan can be alive: a running one was cut off (its
    # worker killed) and will never finish. Mark it so, rather than leave it running.
    Scan.objects.filter(state=Scan.State.RUNNING).update(state=Scan.State.ABANDONED)
    return Scan.objects.create(task_id=task_id)


def _scan(*, task_id: str, checks: list[HealthCheck]) -> Scan:
    started = time.perf_counter()
    scan = _begin(task_id)
    outcomes = _probe(checks, deadline=settings.HEALTH_SCAN_DEADLINE)
    _record(scan, checks, outcomes, duration=time.perf_counter() - started)
    scan.refresh_from_db()
    return scan


def _slowest_first(latency_ms: float | None) -> tuple[bool, float]:
    """The order a scan probes its checks in, by each one's last latency: those that gave
    no answer last time (a timeout, most often) or were never probed, then the slowest to
    answer. A scan lasts until its last probe ends, so a slow probe started last holds the
    whole scan up; started first, it waits while the quick ones run."""
    return latency_ms is not None, -(latency_ms or 0)


def _probe(checks: list[HealthCheck], *, deadline: float) -> list[ProbeOutcome]:
    checks = sorted(checks, key=lambda check: _slowest_first(check.latency_ms))
    return asyncio.run(
        probe_all(
            [probe_spec(check) for check in checks],
            concurrency=settings.HEALTH_SCAN_CONCURRENCY,
            deadline=deadline,
            deny=settings.HEALTH_CHECK_DENY_NETWORKS,
        )
    )


def probe_chunk(check_ids: list[int], *, probe_until: float) -> list[list]:
    """Probe one chunk of a planned scan, every probe ended by `probe_until` (a chunk that
    waited in the queue gets what is left of the scan's deadline); the outcomes as JSON
    rows for `scan_finish`. Checks deleted or disabled since the plan are left out."""
    started = time.perf_counter()
    checks = list(_enabled_checks(check_ids))
    loaded = time.perf_counter()
    outcomes = _probe(checks, deadline=round(max(0.0, probe_until - time.time()), 1))
    log.info(
        "chunk of %d checks: loaded in %.2f s, probed in %.2f s",
        len(checks),
        loaded - started,
        time.perf_counter() - loaded,
    )
    return [[o.key, o.outcome, o.latency_ms, o.detail] for o in outcomes]


def scan_finish(scan_id: int, chunk_rows: list[list[list]], *, lock_token: str) -> dict:
    """Record a planned scan from its chunks' outcomes, all or nothing as a scan in one
    task records its own, give its lock back, and return its summary."""
    try:
        started = time.perf_counter()
        scan = Scan.objects.get(pk=scan_id)
        outcomes = [ProbeOutcome(*row) for rows in chunk_rows for row in rows]
        loaded = time.perf_counter()
        duration = (timezone.now() - scan.started_at).total_seconds()
        # The checks are read once, locked, with their maintenance, as they are recorded.
        _record(scan, None, outcomes, duration=duration)
        log.info(
            "scan %d: %d outcomes read in %.2f s, recorded in %.2f s",
            scan_id,
            len(outcomes),
            loaded - started,
            time.perf_counter() - loaded,
        )
        scan.refresh_from_db()
        return scan.summary()
    finally:
        _release(scan_lock(lock_token))


def scan_abandon(scan_id: int, *, lock_token: str) -> dict:
    """A chunk of a planned scan died (its worker lost, a time limit): the scan is marked
    abandoned, never finished, and its lock given back rather than left to lapse."""
    try:
        marked = Scan.objects.filter(pk=scan_id, state=Scan.State.RUNNING).update(
            state=Scan.State.ABANDONED
        )
    finally:
        _release(scan_lock(lock_token))
    return {"scan": scan_id, "abandoned": bool(marked)}


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
    scan: Scan,
    checks: list[HealthCheck] | None,
    outcomes: list[ProbeOutcome],
    *,
    duration: float,
) -> None:
    """Write a scan's results, its checks' new state and its finish: all, or nothing.
    `checks` are those probed, or None for a finishing task, which reads them here."""
    now = timezone.now()
    # Checks deleted while we probed are left out; the rest are locked until we commit
    # (on PostgreSQL), so none is deleted between here and the write below. Their ids go
    # as one parameter, and they are locked in the order of their ids.
    locked = (
        HealthCheck.objects.select_for_update()
        .filter(json_rows.AmongKeys(F("pk"), [outcome.key for outcome in outcomes]))
        .with_maintenance(now)
        .order_by("pk")
    )
    if checks is None:
        checks = list(locked)
        in_maintenance = {check.pk: check.in_maintenance for check in checks}
    else:
        in_maintenance = dict(locked.values_list("pk", "in_maintenance"))
        checks = [check for check in checks if check.pk in in_maintenance]
    by_key = {outcome.key: outcome for outcome in outcomes}
    counts: Counter[str] = Counter()
    results = []
    for check in checks:
        check_id = check.pk
        probe = by_key[check_id]
        status = check.record(
            probe.outcome, latency_ms=probe.latency_ms, detail=probe.detail, at=now
        )
        shown = shown_status(status, in_maintenance=in_maintenance[check_id])
        counts[shown] += 1
        results.append(
            ResultRow(
                health_check_id=check_id,
                checked_at=now,
                outcome=probe.outcome,
                status=shown,
                latency_ms=probe.latency_ms,
                detail=probe.detail[:500],
            )
        )
    json_rows.insert(CheckResult, results, RESULT_FIELDS, same={"scan": scan.pk, "checked_at": now})
    # In this transaction: the alerts (and their deliveries) commit with the status
    # changes they tell of, or not at all. Sending waits for the commit.
    alerts_record(scan, checks, in_maintenance, at=now)
    # Figures from the rollups, never from the results table: the same cost whatever
    # the history.
    rollups.set_uptimes(checks, rollups.add_results(results), now)
    # Only the columns a scan changes (portal/json_rows.py): admin edits to a check's
    # configuration made during the scan are kept. Every check was recorded now and has
    # its uptime based on this hour (set_uptimes): those are sent once, not once a check.
    # Its recent latencies are those it had with this one added (HealthCheck.record):
    # the database adds it rather than read them all again.
    same = {"checked_at": now, "uptime_base_hour": rollups.hour_of(now)}
    appended = {"recent_latencies": ("latency_ms", SPARKLINE_POINTS)}
    json_rows.update(
        HealthCheck,
        checks,
        [name for name in CHECK_STATE_FIELDS if name not in same and name not in appended],
        same=same,
        appended=appended,
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
    # Pages show this scan (and the incidents it opened or resolved) once it commits.
    page_state_moved()


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
