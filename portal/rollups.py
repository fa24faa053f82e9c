"""Health history kept as rollups: per check, how many results had each status and how
fast it answered, per clock hour; per local day once older than HOURLY_DAYS.

A scan adds its results to the current hour's rows (`add_results`, a fixed number of
queries whatever the history), and every uptime figure is summed from rollups, never
from the raw results, which are kept only HEALTH_RETENTION_HOURS. Maintenance and
not-yet-settled results count as up: they are not outages.

Once an hour is closed, the hourly job gives each row its check's running totals before
it (`count_running_totals`), so that a window of any length is read from the rows at its
two ends plus the last hours' (`windows_between`), not summed over all its rows.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.utils import timezone

from . import json_rows
from .models import HealthCheck, HealthRollup

# Hourly rows are kept this many days (the cards' 7-day uptime is read from them, to the
# hour); older ones are compacted into one row per check and local day.
HOURLY_DAYS = 8
# Rows deleted per statement when pruning: each batch is its own short transaction.
PRUNE_BATCH = 10_000

_COUNTS = ["up", "degraded", "down", "maintenance", "unknown"]
_SUMMED = [*_COUNTS, "latency_count", "latency_sum_ms"]
# How many results a rollup row counts (its statuses added up).
RESULTS = F("up") + F("degraded") + F("down") + F("maintenance") + F("unknown")


# Per check, (results, down).
Totals = dict[int, tuple[int, int]]


def hour_of(at: datetime) -> datetime:
    """The start of the clock hour `at` falls in (UTC)."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(day: date) -> datetime:
    """The start of a local day (TIME_ZONE): where its day rollup begins."""
    return timezone.make_aware(datetime.combine(day, time()))


class HourCounts(NamedTuple):
    """How many results a check's rollup of the current hour counts, and how many were down."""

    total: int
    down: int


def add_results(results: Iterable) -> dict[int, HourCounts]:
    """Count a scan's results (all checked at the same time; CheckResults or what a scan
    writes of them) in their checks' rollups of that hour; returns each row's counts so
    far, by check.

    One statement, adding in the database (INSERT … ON CONFLICT DO UPDATE SET up = up +
    excluded.up) what this scan counted, sent as one JSON document: nothing is read
    first and no row is rebuilt in Python, where a bulk upsert of whole rows must read
    them and build the statement value by value.
    """
    results = list(results)
    if not results:
        return {}
    hour = hour_of(results[0].checked_at)
    # [check, up, degraded, down, maintenance, unknown, latency_count, latency_sum_ms,
    # latency_max_ms]: _ADDED's order.
    added: dict[int, list] = {}
    for result in results:
        row = added.setdefault(
            result.health_check_id, [result.health_check_id, 0, 0, 0, 0, 0, 0, 0.0, None]
        )
        row[_COLUMN[result.status]] += 1
        if result.latency_ms is not None:
            row[6] += 1
            row[7] += result.latency_ms
            row[8] = max(row[8] or 0.0, result.latency_ms)
    with connection.cursor() as cursor:
        cursor.execute(
            _add_statement(),
            [connection.ops.adapt_datetimefield_value(hour), json_rows.document(added.values())],
        )
        return {check_id: HourCounts(total, down) for check_id, total, down in cursor.fetchall()}


# Where add_results counts a result of each status in a check's row.
_COLUMN = {status: 1 + index for index, status in enumerate(_COUNTS)}
# The columns add_results sends for each check, in order, and their SQL types.
_ADDED = [
    ("health_check_id", "integer"),
    *((name, "integer") for name in [*_COUNTS, "latency_count"]),
    ("latency_sum_ms", "double precision"),
    ("latency_max_ms", "double precision"),
]


def _add_statement() -> str:
    """add_results' upsert, its rows read from the JSON document (portal/json_rows.py)."""
    quote = connection.ops.quote_name
    table = quote(HealthRollup._meta.db_table)
    values = ", ".join(
        json_rows.value(index, sql_type) for index, (_name, sql_type) in enumerate(_ADDED)
    )
    added_to = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in _SUMMED
    )
    columns = ", ".join(quote(name) for name, _sql_type in _ADDED)
    # WHERE true: SQLite reads an ON after a bare FROM as a join's.
    return (
        f"INSERT INTO {table} (hour, hours, {columns}) "  # noqa: S608 - names from the model
        f"SELECT %s, 1, {values} FROM {json_rows.source()} WHERE true "
        f"ON CONFLICT (health_check_id, hour) DO UPDATE SET {added_to}, "
        f"latency_max_ms = CASE WHEN {table}.latency_max_ms IS NULL "
        f"OR excluded.latency_max_ms > {table}.latency_max_ms "
        f"THEN excluded.latency_max_ms ELSE {table}.latency_max_ms END "
        f"RETURNING health_check_id, {' + '.join(map(quote, _COUNTS))}, down"
    )


def _share(total: int | None, down: int | None) -> float | None:
    return round(100 * (total - down) / total, 2) if total else None


def set_uptimes(
    checks: list[HealthCheck], hour_rows: dict[int, HealthRollup | HourCounts], at: datetime
) -> None:
    """Set each check's uptime over the last 24 and 168 clock hours, this one included:
    the closed hours, kept on the check (`uptime_base`) by the hour's first scan, plus
    this hour's row (`hour_rows`, from add_results). Most scans read nothing; the first
    of each hour moves the closed hours on by one (`_slide`: three hours' rows a check),
    or, for a check not scanned the hour before, reads them at the windows' ends
    (`closed_hours`: a few rows a check, whatever the history)."""
    hour = hour_of(at)
    stale = [check for check in checks if check.uptime_base_hour != hour]
    previous = hour - timedelta(hours=1)
    slid = [check for check in stale if check.uptime_base_hour == previous]
    if slid:
        _slide(slid, hour)
    summed = [check for check in stale if check.uptime_base_hour != hour]
    if summed:
        bases = closed_hours([check.pk for check in summed], hour)
        for check in summed:
            check.uptime_base_hour, check.uptime_base = hour, bases.get(check.pk, [0, 0, 0, 0])
    for check in checks:
        row = hour_rows.get(check.pk)
        total, down = (row.total, row.down) if row else (0, 0)
        day_total, day_down, week_total, week_down = check.uptime_base
        check.uptime_24h = _share(day_total + total, day_down + down)
        check.uptime_7d = _share(week_total + total, week_down + down)


def _slide(checks: list[HealthCheck], hour: datetime) -> None:
    """Move the closed hours of checks summed an hour before `hour` on to `hour`: the
    hour just closed enters both windows, the one 24 hours before it leaves the day's and
    the one 168 hours before it the week's. One query, whatever the history; the hours
    it reads are younger than HOURLY_DAYS, never compacted."""
    closed = hour - timedelta(hours=1)
    left_day, left_week = hour - timedelta(hours=24), hour - timedelta(hours=7 * 24)
    # Summed in the database, each hour's counts a column: one row a check comes back.
    counts = {
        row[0]: row[1:]
        for row in HealthRollup.objects.filter(
            json_rows.AmongKeys(F("health_check"), [check.pk for check in checks]),
            hour__in=[closed, left_day, left_week],
        )
        .order_by()
        .values("health_check_id")
        .annotate(
            **{
                f"{name}_{what}": Sum(counted, filter=Q(hour=at), default=0)
                for name, at in (("closed", closed), ("day", left_day), ("week", left_week))
                for what, counted in (("total", RESULTS), ("down", F("down")))
            }
        )
        .values_list(
            "health_check_id",
            "closed_total",
            "closed_down",
            "day_total",
            "day_down",
            "week_total",
            "week_down",
        )
    }
    for check in checks:
        entered_total, entered_down, day_total, day_down, week_total, week_down = counts.get(
            check.pk, (0, 0, 0, 0, 0, 0)
        )
        base = check.uptime_base
        check.uptime_base_hour = hour
        check.uptime_base = [
            base[0] + entered_total - day_total,
            base[1] + entered_down - day_down,
            base[2] + entered_total - week_total,
            base[3] + entered_down - week_down,
        ]


def closed_hours(check_ids: list[int], hour: datetime) -> dict[int, list[int]]:
    """[results, down] over the 23 and the 167 clock hours before `hour`, per check (checks
    with no rows there left out): read at the windows' ends from the running totals
    (`windows_between`), not summed over their rows; both windows in one pass, as they
    end at the same rows."""
    day, week = windows_between(
        check_ids,
        [hour - timedelta(hours=23), hour - timedelta(hours=7 * 24 - 1)],
        hour,
        counted=counted_through(),
    )
    return {pk: [*day.get(pk, (0, 0)), *counts] for pk, counts in week.items()}


def windows_between(
    check_ids: list[int],
    starts: list[datetime],
    until: datetime | None,
    *,
    counted: datetime | None,
) -> list[Totals]:
    """Each check's (results, down) in its rollups from each of `starts` up to `until`
    (the hour it names left out; None: up to now), one dict a window; checks with none
    are left out. `counted`: what `counted_through` says. The same figures as summing
    those rows, in two queries of a few rows a check however long the windows (up to
    five when checks lack a row at an edge, `_edges`, or have one written after it was
    counted): the running totals of each check's first row from a start and of its last
    counted one before `until` tell what lies between them (any time zone: the rows are
    found by instant), and the rows not counted yet (the last hours) are summed. The
    windows share their last counted rows and the hours not counted yet, read once."""
    before_until = Q() if until is None else Q(hour__lt=until)
    if until is not None and counted is not None:
        counted = min(counted, until - timedelta(hours=1))
    windows: list[Totals] = [{} for _since in starts]
    read_at_edges = []
    for window, since in zip(windows, starts, strict=True):
        if counted is None or since > counted:
            window |= _summed(check_ids, Q(hour__gte=since) & before_until)
        else:
            read_at_edges.append((window, since))
    if not read_at_edges:
        return windows
    edges = _edges(check_ids, starts=[since for _window, since in read_at_edges], counted=counted)
    tail = _summed(check_ids, Q(hour__gt=counted) & before_until)
    for (window, since), (firsts, lasts, uncounted) in zip(read_at_edges, edges, strict=True):
        if uncounted:
            window |= _summed(uncounted, Q(hour__gte=since) & before_until)
        for pk in (lasts.keys() | tail.keys()) - set(uncounted):
            end_results, end_down = lasts.get(pk, (0, 0))
            # No counted row from `since` on: nothing counted between them.
            start_results, start_down = firsts.get(pk, (end_results, end_down))
            tail_results, tail_down = tail.get(pk, (0, 0))
            results = end_results - start_results + tail_results
            if results:
                window[pk] = (results, end_down - start_down + tail_down)
    return windows


def counted_through() -> datetime | None:
    """The hour of the last rows with running totals (all rows up to it have theirs), or
    None before any are set."""
    counted = HealthRollup.objects.exclude(results_before=None)
    # The hourly job leaves it among the last few hours: looked for there first, a range
    # of the hours' index, whatever the planner's statistics say of the column (just
    # after the first count, they may say no row has totals).
    recent = counted.filter(hour__gte=hour_of(timezone.now()) - timedelta(hours=6))
    return recent.aggregate(last=Max("hour"))["last"] or counted.aggregate(last=Max("hour"))["last"]


def _summed(check_ids: list[int], hours: Q) -> dict[int, tuple[int, int]]:
    rows = (
        HealthRollup.objects.filter(hours, json_rows.AmongKeys(F("health_check"), check_ids))
        .order_by()
        .values("health_check_id")
        .annotate(results=Sum(RESULTS), summed_down=Sum("down"))
        .values_list("health_check_id", "results", "summed_down")
    )
    return {pk: (results, down) for pk, results, down in rows}


def _edges(
    check_ids: list[int], *, starts: list[datetime], counted: datetime
) -> list[tuple[Totals, Totals, list[int]]]:
    """For each of `starts`: the running totals (results, down) before each check's first
    row from it and after its last row up to `counted` (counted_through), of checks with
    rows there, and the checks where such a row has none (added to after it was counted,
    by a scan over an hour late: those are to be summed row by row). Looked for in the
    hour from each start and the one up to `counted` first (where nearly every check has
    one: one query), then, for the others (checks younger than a window, or that missed
    its first hour), by a lookup of the index a check and end, then their rows in one
    query."""
    at_starts = [
        Q(hour__gte=since, hour__lt=since + timedelta(hours=1), hour__lte=counted)
        for since in starts
    ]
    at_end = Q(hour__gt=counted - timedelta(hours=1), hour__lte=counted)
    # Which end a row is at, as flags: cheaper to read than its time.
    flags = {
        f"first_{index}": ExpressionWrapper(at_start, output_field=BooleanField())
        for index, at_start in enumerate(at_starts)
    }
    near = (
        HealthRollup.objects.filter(json_rows.AmongKeys(F("health_check"), check_ids))
        .filter(functools.reduce(operator.or_, at_starts, at_end))
        .order_by("hour")
        .annotate(**flags, last=ExpressionWrapper(at_end, output_field=BooleanField()))
        .values_list(
            "health_check_id", "results_before", "down_before", RESULTS, "down", "last", *flags
        )
    )
    firsts: list[Totals] = [{} for _since in starts]
    lasts: Totals = {}
    for pk, results_before, down_before, results, down, last, *at_start in near:
        if results_before is None:
            continue  # looked for one by one below
        for first, found in zip(at_start, firsts, strict=True):
            if first and pk not in found:
                found[pk] = (results_before, down_before)
        if last:
            lasts[pk] = (results_before + results, down_before + down)
    missing = [pk for pk in check_ids if pk not in lasts or any(pk not in f for f in firsts)]
    uncounted: list[list[int]] = [[] for _since in starts]
    if missing:
        # The edges each one lacks: its first row from each start and its last up to
        # `counted`, by id (a lookup of the check-and-hour index a check and edge, only
        # for the edges it lacks: a history younger than the week lacks the week's start
        # alone), then those rows in one query.
        def lacking(edge: Subquery, found: dict[int, tuple[int, int]]) -> Case:
            lacked = [pk for pk in missing if pk not in found]
            return Case(When(json_rows.AmongKeys(F("pk"), lacked), then=edge))

        last = HealthRollup.objects.filter(health_check=OuterRef("pk"), hour__lte=counted).order_by(
            "-hour"
        )
        first_ids = {
            f"first_id_{index}": lacking(
                Subquery(
                    HealthRollup.objects.filter(
                        health_check=OuterRef("pk"), hour__gte=since, hour__lte=counted
                    )
                    .order_by("hour")
                    .values("pk")[:1]
                ),
                firsts[index],
            )
            for index, since in enumerate(starts)
        }
        ends = list(
            HealthCheck.objects.filter(json_rows.AmongKeys(F("pk"), missing))
            .order_by()
            .annotate(last_id=lacking(Subquery(last.values("pk")[:1]), lasts), **first_ids)
            .values_list("pk", "last_id", *first_ids)
        )
        found = [row_id for _pk, *ids in ends for row_id in ids if row_id is not None]
        rows = {
            row_id: (results_before, down_before, results, down)
            for row_id, results_before, down_before, results, down in HealthRollup.objects.filter(
                json_rows.AmongKeys(F("pk"), found)
            )
            .order_by()
            .values_list("pk", "results_before", "down_before", RESULTS, "down")
        }
        for pk, last_id, *first_row_ids in ends:
            last_row = rows.get(last_id)
            # A last row written after it was counted: every window of it is summed.
            late = last_row is not None and last_row[0] is None
            for index, first_id in enumerate(first_row_ids):
                first_row = rows.get(first_id)
                if late or (first_row and first_row[0] is None):
                    firsts[index].pop(pk, None)
                    uncounted[index].append(pk)
                elif first_row:
                    firsts[index][pk] = (first_row[0], first_row[1])
            if last_row and not late:
                lasts[pk] = (last_row[0] + last_row[2], last_row[1] + last_row[3])
    return [(found, lasts, pks) for found, pks in zip(firsts, uncounted, strict=True)]


def count_running_totals(*, now: datetime | None = None) -> int:
    """Set the running totals (results_before, down_before) of the rows of closed hours
    that have none, in hour order: each row's are its check's previous row's plus that
    row's counts. Returns how many rows were set.

    An hour is closed once the one after it is over: a scan adds to the hour it started
    in, so one finishing just after the hour turns may still add to the one before (the
    status page's rule too). A day of rows at a time, each its own transaction, so a
    first run over a long history never holds the table long, and every row up to the
    last one counted has its totals (counted_through). Safe to run twice: counted rows
    are never read again."""
    closed = hour_of(now or timezone.now()) - timedelta(hours=1)
    uncounted = HealthRollup.objects.filter(results_before=None, hour__lt=closed)
    counted = counted_through()
    if counted is not None:
        uncounted = uncounted.filter(hour__gt=counted)
    start = uncounted.order_by("hour").values_list("hour", flat=True).first()
    if start is None:
        return 0
    # Each check's totals after its last row before `start` (all counted).
    last = HealthRollup.objects.filter(health_check=OuterRef("pk"), hour__lt=start).order_by(
        "-hour"
    )
    totals = {
        pk: (results, down)
        for pk, results, down in HealthCheck.objects.annotate(
            results_through=Subquery(last.values(total=F("results_before") + RESULTS)[:1]),
            down_through=Subquery(last.values(total=F("down_before") + F("down"))[:1]),
        )
        .exclude(results_through=None)
        .values_list("pk", "results_through", "down_through")
    }
    counted_rows = 0
    while start < closed:
        end = min(start + timedelta(days=1), closed)
        with transaction.atomic():
            rows = list(
                uncounted.filter(hour__gte=start, hour__lt=end)
                .select_for_update()
                .order_by("hour", "health_check_id")
            )
            for row in rows:
                results, down = totals.get(row.health_check_id, (0, 0))
                row.results_before, row.down_before = results, down
                totals[row.health_check_id] = (results + row.total, down + row.down)
            # An upsert of the two columns on the primary key: one statement a batch of
            # 500, where bulk_update() builds a CASE per row. The rows are locked.
            HealthRollup.objects.bulk_create(
                rows,
                batch_size=500,
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=["results_before", "down_before"],
            )
        counted_rows += len(rows)
        start = end
    return counted_rows


def compact(*, now: datetime | None = None) -> int:
    """Fold the hourly rows of each local day older than HOURLY_DAYS into one row per
    check starting at that day's midnight; returns the days compacted.

    A day at a time, each in its own transaction; scans only ever add to the current
    hour, so they never wait on it. Safe to run twice: a compacted day has no hourly rows.
    """
    now = now or timezone.now()
    cutoff = day_start(timezone.localdate(now) - timedelta(days=HOURLY_DAYS))
    compacted = 0
    while True:
        first = (
            HealthRollup.objects.filter(hours=1, hour__lt=cutoff)
            .order_by("hour")
            .values_list("hour", flat=True)
            .first()
        )
        if first is None:
            return compacted
        day = timezone.localdate(first)
        start, end = day_start(day), day_start(day + timedelta(days=1))
        with transaction.atomic():
            in_day = HealthRollup.objects.filter(hour__gte=start, hour__lt=end)
            sums = list(
                in_day.order_by()
                .values("health_check_id")
                .annotate(
                    **{name: Sum(name) for name in _SUMMED},
                    latency_max_ms=Max("latency_max_ms"),
                    # The day's first row's (running totals only grow); none while that
                    # row has none (then neither has any later row).
                    results_before=Min("results_before"),
                    down_before=Min("down_before"),
                )
            )
            in_day.delete()
            HealthRollup.objects.bulk_create(
                [HealthRollup(hour=start, hours=24, **row) for row in sums], batch_size=500
            )
        compacted += 1


def delete_in_batches(queryset: QuerySet) -> int:
    """Delete a queryset's rows PRUNE_BATCH at a time, each DELETE its own short
    transaction, so that a scan writing meanwhile waits at most one batch; returns how
    many."""
    batch, deleted = PRUNE_BATCH, 0
    while True:
        oldest = queryset.order_by("pk").values("pk")[:batch]
        count, _by_model = queryset.model.objects.filter(pk__in=Subquery(oldest)).delete()
        deleted += count
        if count < batch:
            return deleted


def rollups_prune(*, now: datetime | None = None) -> dict:
    """Set the running totals of closed hours, compact old hourly rows, then delete
    rollups older than HEALTH_ROLLUP_RETENTION_DAYS."""
    now = now or timezone.now()
    counted = count_running_totals(now=now)
    days = compact(now=now)
    cutoff = day_start(
        timezone.localdate(now) - timedelta(days=settings.HEALTH_ROLLUP_RETENTION_DAYS)
    )
    deleted = delete_in_batches(HealthRollup.objects.filter(hour__lt=cutoff))
    return {
        "rollups_counted": counted,
        "rollup_days_compacted": days,
        "rollups_deleted": deleted,
        "rollups_before": cutoff.isoformat(),
    }
