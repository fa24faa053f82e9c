"""Uptime and latency history kept in hourly (then daily) rollups: the figures read from
them equal those counted from the raw results, a scan's write costs the same whatever
the history, and pruning keeps what it must."""

import random
from datetime import timedelta
from itertools import groupby

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal import rollups
from portal.models import CheckResult, HealthCheck, HealthRollup, Scan, Service
from portal.probes import ProbeOutcome
from portal.rollups import (
    HOURLY_DAYS,
    add_results,
    compact,
    counted_through,
    day_start,
    hour_of,
    rollups_prune,
    set_uptimes,
    windows_between,
)
from portal.scans import _record, results_prune
from portal.selectors import daily_counts
from portal.status import share_up
from tests.factories import make_finished_scan

STATUSES = ["up", "up", "up", "up", "degraded", "down", "maintenance", "unknown"]


@pytest.fixture
def three_checks(catalog):
    return [
        # Service's later columns (its icon) are not there at 0008: ask for its key only.
        HealthCheck.objects.create(
            slug=f"{slug}-check",
            service_id=Service.objects.values_list("pk", flat=True).get(slug=slug),
            target="/health",
        )
        for slug in ("gitlab", "jenkins", "flower")
    ]


def record_history(checks, *, now, days, every=timedelta(minutes=30), seed=17, rollups=True):
    """Results of every check each `every` for `days` up to `now`, with random statuses,
    written as scans write them: raw results, and the same results added to the rollups
    (unless not `rollups`: as before there were any)."""
    chance = random.Random(seed)  # noqa: S311 - the same history each run, not a secret
    results = []
    at = now - timedelta(days=days)
    while at <= now:
        scan = make_finished_scan(at=at)
        batch = []
        for check in checks:
            status = chance.choice(STATUSES)
            latency = None if status == "down" else chance.uniform(5, 500)
            batch.append(
                CheckResult(
                    scan=scan,
                    health_check=check,
                    checked_at=at,
                    outcome=status,
                    status=status,
                    latency_ms=latency,
                )
            )
        if rollups:
            add_results(batch)
        results.extend(batch)
        at += every
    CheckResult.objects.bulk_create(results)
    return results


def counts_since(check_ids, since):
    """Each check's (results, down) from `since` on, read as a scan reads its windows
    after a gap: at the window's two ends, from the running totals."""
    return windows_between(check_ids, [since], None, counted=counted_through())[0]


def uptime_over_days(check_ids, days, *, today=None):
    """Each check's uptime over the last `days` local days, today included, read at the
    window's ends (`counts_since`); checks with no results left out."""
    today = today or timezone.localdate()
    counts = counts_since(check_ids, day_start(today - timedelta(days=days - 1)))
    return {pk: share_up(total, down) for pk, (total, down) in counts.items()}


def raw_share(results, check, since, until=None):
    """Uptime counted from raw results, as the scans did before rollups."""
    chosen = [
        r
        for r in results
        if r.health_check_id == check.pk
        and r.checked_at >= since
        and (until is None or r.checked_at < until)
    ]
    if not chosen:
        return None
    down = sum(r.status == "down" for r in chosen)
    return round(100 * (len(chosen) - down) / len(chosen), 2)


def test_figures_from_rollups_equal_figures_counted_from_raw_results(three_checks):
    now = timezone.now()
    results = record_history(three_checks, now=now, days=HOURLY_DAYS + 4)
    # Days older than HOURLY_DAYS are folded into one row a day; the figures stay the same.
    assert compact(now=now) >= 3
    assert HealthRollup.objects.filter(hours=24).exists()
    assert not HealthRollup.objects.filter(
        hours=1, hour__lt=day_start(timezone.localdate(now) - timedelta(days=HOURLY_DAYS))
    ).exists()

    hour = hour_of(now)
    ids = [check.pk for check in three_checks]
    uptimes = uptimes_read(ids, now)
    month = uptime_over_days(ids, 30)
    today = timezone.localdate()
    days = [today - timedelta(days=13 - n) for n in range(14)]
    # Each check is its service's only one: the status page's bars per item are the check's.
    daily = daily_counts(days=14, today=today)
    for check in three_checks:
        bars = [
            share_up(*daily.get(("service", check.service_id), {}).get(day, (0, 0)))
            for day in days
        ]
        assert uptimes[check.pk] == (
            raw_share(results, check, hour - timedelta(hours=23)),
            raw_share(results, check, hour - timedelta(hours=167)),
        )
        assert month[check.pk] == raw_share(results, check, now - timedelta(days=30))
        assert bars == [
            raw_share(results, check, day_start(day), day_start(day + timedelta(days=1)))
            for day in days
        ]
        assert bars[0] is None  # before the history began

    # Latency is kept too: per hour and per day, the same sums and maxima as the results.
    gitlab = three_checks[0]
    answered = [r.latency_ms for r in results if r.health_check_id == gitlab.pk and r.latency_ms]
    rows = HealthRollup.objects.filter(health_check=gitlab)
    assert sum(row.latency_count for row in rows) == len(answered)
    assert sum(row.latency_sum_ms for row in rows) == pytest.approx(sum(answered))
    assert max(row.latency_max_ms or 0 for row in rows) == pytest.approx(max(answered))


def uptimes_read(check_ids, now):
    """Each check's (24 h, 7 d) uptime as a scan at `now` sets it, from the rollups."""
    checks = list(HealthCheck.objects.filter(pk__in=check_ids))
    hour_rows = {row.health_check_id: row for row in HealthRollup.objects.filter(hour=hour_of(now))}
    set_uptimes(checks, hour_rows, now)
    return {check.pk: (check.uptime_24h, check.uptime_7d) for check in checks}


@pytest.mark.parametrize(
    ("counted_until", "queries"),
    [
        # As the hourly job leaves the running totals: the last counted hour, then both
        # windows' ends (one query: they end at the same rows) and the hour after the
        # last counted one.
        (timedelta(0), 3),
        # Counted a day behind (the job stopped): the rows since summed at each end.
        (timedelta(days=1), 5),
        # None counted yet (just after the upgrade): each window's rows summed.
        (None, 4),
    ],
)
def test_the_hours_later_scans_add_to_the_closed_hours_read_by_its_first(
    three_checks, django_assert_num_queries, counted_until, queries
):
    now = timezone.now()
    results = record_history(three_checks, now=now - timedelta(minutes=1), days=9)
    if counted_until is not None:
        assert rollups.count_running_totals(now=now - counted_until) > 0
    checks = list(HealthCheck.objects.filter(pk__in=[check.pk for check in three_checks]))
    hour_rows = {row.health_check_id: row for row in HealthRollup.objects.filter(hour=hour_of(now))}
    # The first scan after a gap: the closed hours read in a few queries, whatever the
    # history's length.
    with django_assert_num_queries(queries):
        set_uptimes(checks, hour_rows, now)
    assert {check.uptime_base_hour for check in checks} == {hour_of(now)}
    # A later scan in the same hour: its own results added, nothing read.
    later = [
        CheckResult(health_check=check, checked_at=now, status="down", outcome="down")
        for check in checks
    ]
    hour_rows = add_results(later)
    with django_assert_num_queries(0):
        set_uptimes(checks, hour_rows, now)
    results += later
    for check in checks:
        assert (check.uptime_24h, check.uptime_7d) == (
            raw_share(results, check, hour_of(now) - timedelta(hours=23)),
            raw_share(results, check, hour_of(now) - timedelta(hours=167)),
        )


def test_the_hours_first_scan_moves_the_closed_hours_on_as_a_full_sum_would(
    three_checks, django_assert_num_queries
):
    now = timezone.now()
    hour = hour_of(now)
    results = record_history(three_checks, now=now, days=9)
    ids = [check.pk for check in three_checks]
    checks = list(HealthCheck.objects.filter(pk__in=ids))
    # As the scans of the hour before left them: summed in that hour.
    set_uptimes(checks, {}, hour - timedelta(minutes=1))
    assert {check.uptime_base_hour for check in checks} == {hour - timedelta(hours=1)}
    hour_rows = {row.health_check_id: row for row in HealthRollup.objects.filter(hour=hour)}
    # The hour's first scan: one read of the three hours that enter and leave the windows.
    with django_assert_num_queries(1):
        set_uptimes(checks, hour_rows, now)
    summed = rollups.closed_hours(ids, hour)
    for check in checks:
        assert check.uptime_base_hour == hour
        assert check.uptime_base == summed[check.pk]
        assert (check.uptime_24h, check.uptime_7d) == (
            raw_share(results, check, hour - timedelta(hours=23)),
            raw_share(results, check, hour - timedelta(hours=167)),
        )


def test_compacting_twice_changes_nothing(three_checks):
    now = timezone.now()
    record_history(three_checks[:1], now=now - timedelta(days=HOURLY_DAYS), days=2)
    assert compact(now=now) == 2
    before = list(HealthRollup.objects.values())
    assert compact(now=now) == 0
    assert list(HealthRollup.objects.values()) == before
    assert {row["hours"] for row in before} >= {24}


def scan_write(checks, *, down=()):
    """A scan's write (portal.scans._record) of outcomes for these checks; its queries."""
    checks = list(HealthCheck.objects.filter(pk__in=[check.pk for check in checks]))
    outcomes = [
        ProbeOutcome(
            key=check.pk,
            outcome="down" if check.pk in down else "up",
            latency_ms=None if check.pk in down else 12.5,
            detail="",
        )
        for check in checks
    ]
    scan = Scan.objects.create()
    with CaptureQueriesContext(connection) as captured:
        _record(scan, checks, outcomes, duration=0.1)
    return len(captured)


def test_a_scan_writes_in_the_same_queries_whatever_the_history(three_checks):
    def after_a_gap(checks, *, days):
        """The write of a scan after a gap of an hour, with `days` of history before."""
        HealthRollup.objects.all().delete()
        record_history(checks, now=timezone.now() - timedelta(hours=1), days=days)
        rollups.count_running_totals()  # as the hourly job leaves them
        HealthCheck.objects.update(uptime_base_hour=None)  # not scanned the hour before
        return scan_write(checks)

    # The hour's first scan reads the closed hours (rollups.closed_hours): the last
    # counted hour, both windows' ends in one query and the hour after the last counted
    # one; with a day of history, the week's start is looked for in two queries more.
    # Later scans of the hour add to what the first one read.
    reads = after_a_gap(three_checks, days=1) - scan_write(three_checks)
    assert reads == 5
    first_of_the_hour = after_a_gap(three_checks, days=9)
    assert first_of_the_hour - scan_write(three_checks) == 3
    assert after_a_gap(three_checks, days=14) == first_of_the_hour
    # Neither do they grow with the checks.
    more = [
        HealthCheck.objects.create(slug=f"more-{n}", service=three_checks[0].service, target="/")
        for n in range(5)
    ]
    assert after_a_gap([*three_checks, *more], days=9) == first_of_the_hour


def test_a_scan_adds_its_results_to_the_hours_rollup_and_reads_uptime_from_it(
    three_checks, django_assert_num_queries
):
    gitlab, jenkins, _flower = three_checks
    scan_write(three_checks)
    scan_write(three_checks, down={jenkins.pk})
    row = HealthRollup.objects.get(health_check=jenkins)
    # One failure does not take an up check down (flap control): it still reads up.
    assert (row.hour, row.hours, row.up, row.down) == (hour_of(timezone.now()), 1, 2, 0)
    assert (row.latency_count, row.latency_sum_ms, row.latency_max_ms) == (1, 12.5, 12.5)
    HealthCheck.objects.filter(pk=jenkins.pk).update(status="down", consecutive_failures=5)
    scan_write(three_checks, down={jenkins.pk})
    jenkins.refresh_from_db()
    assert (jenkins.uptime_24h, jenkins.uptime_7d) == (66.67, 66.67)
    gitlab.refresh_from_db()
    assert (gitlab.uptime_24h, gitlab.uptime_7d) == (100.0, 100.0)
    assert HealthRollup.objects.get(health_check=gitlab).up == 3


def test_pruning_keeps_recent_results_and_rollups_deleting_in_batches(
    three_checks, settings, monkeypatch
):
    settings.HEALTH_RETENTION_HOURS = 48
    settings.HEALTH_ROLLUP_RETENTION_DAYS = 30
    monkeypatch.setattr(rollups, "PRUNE_BATCH", 7)  # several batches
    now = timezone.now()
    record_history(three_checks, now=now - timedelta(days=40), days=2, every=timedelta(hours=1))
    record_history(three_checks, now=now, days=3, every=timedelta(hours=1))
    recent = set(
        CheckResult.objects.filter(checked_at__gte=now - timedelta(hours=48)).values_list(
            "pk", flat=True
        )
    )
    recent_scans = Scan.objects.filter(started_at__gte=now - timedelta(hours=48)).count()
    old = CheckResult.objects.count() - len(recent)

    with CaptureQueriesContext(connection) as captured:
        summary = results_prune(now=now)
    assert set(CheckResult.objects.values_list("pk", flat=True)) == recent
    assert Scan.objects.count() == recent_scans
    assert summary["results_deleted"] == old
    # Seven rows a statement, each its own transaction: a scan never waits for long.
    deletes = [q["sql"] for q in captured if q["sql"].startswith("DELETE")]
    assert sum("LIMIT 7" in sql for sql in deletes) >= old / 7
    assert not any("LIMIT" in sql and "LIMIT 7" not in sql for sql in deletes)
    assert not any(q["sql"].startswith(("BEGIN", "SAVEPOINT")) for q in captured)

    figures = uptime_over_days([check.pk for check in three_checks], 30)
    summary = rollups_prune(now=now)
    assert summary["rollups_deleted"] >= 3 * 2  # the 40-day-old days, one row a day
    cutoff = day_start(timezone.localdate(now) - timedelta(days=30))
    assert not HealthRollup.objects.filter(hour__lt=cutoff).exists()
    assert uptime_over_days([check.pk for check in three_checks], 30) == figures
    assert rollups_prune(now=now)["rollups_deleted"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_counts_the_results_kept_so_far_into_rollups(catalog):
    before = ("portal", "0008_health_rollups_short_raw_retention")
    call_command("migrate", *before, verbosity=0)
    # The checks as they were at 0008 (their later columns, such as the sparkline's, are
    # not there yet), then read back by their keys alone; Service's later columns (its
    # icon) are not there either: ask for its key only.
    CheckBefore = MigrationExecutor(connection).loader.project_state([before]).apps.get_model(
        "portal", "HealthCheck"
    )
    created = [
        CheckBefore.objects.create(
            slug=f"{slug}-check",
            service_id=Service.objects.values_list("pk", flat=True).get(slug=slug),
            target="/health",
        ).pk
        for slug in ("gitlab", "jenkins")
    ]
    checks = list(HealthCheck.objects.only("pk").filter(pk__in=created).order_by("pk"))
    now = timezone.now()
    # Raw results only: the rollups' later columns are not there at 0008 either.
    results = record_history(checks, now=now, days=2, every=timedelta(minutes=20), rollups=False)

    call_command("migrate", "portal", verbosity=0)

    migrated = list(HealthRollup.objects.order_by("health_check", "hour").values())
    # What the scans would have counted, had they counted them.
    HealthRollup.objects.all().delete()
    for _at, scan_results in groupby(results, key=lambda result: result.checked_at):
        add_results(scan_results)
    expected = list(HealthRollup.objects.order_by("health_check", "hour").values())
    assert len(migrated) == len(expected) > 2 * 48
    for before, after in zip(expected, migrated, strict=True):
        del before["id"], after["id"]
        assert after == {**before, "latency_sum_ms": pytest.approx(before["latency_sum_ms"])}
    ids = [check.pk for check in checks]
    assert uptimes_read(ids, now) == {
        check.pk: (
            raw_share(results, check, hour_of(now) - timedelta(hours=23)),
            raw_share(results, check, hour_of(now) - timedelta(hours=167)),
        )
        for check in checks
    }
