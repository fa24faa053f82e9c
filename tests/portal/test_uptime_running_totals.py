"""A window's uptime read from the rollups' running totals, as a scan reads its day and
week after a gap (`rollups.windows_between`), here up to 90 days long: the same figures
as summing every row of the window (and as counting the raw results), in any time zone,
whether the last hours are counted yet or not, before and after compacting and pruning,
in a few queries whatever the window's length."""

import re
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.models import HealthCheck, HealthRollup, Service
from portal.rollups import (
    HOURLY_DAYS,
    closed_hours,
    compact,
    count_running_totals,
    day_start,
    hour_of,
    rollups_prune,
)
from tests.portal.test_health_rollups import (
    counts_since,
    raw_share,
    record_history,
    uptime_over_days,
)

WINDOWS = [1, 2, 7, HOURLY_DAYS + 1, 30, 90]


@pytest.fixture
def checks(catalog):
    service = Service.objects.get(slug="gitlab")
    return [
        HealthCheck.objects.create(slug=f"gitlab-{n}", service=service, target="/health")
        for n in range(3)
    ]


def summed_rows(check_ids, since):
    """Each check's uptime over the rollup rows from `since` on, added up one by one."""
    totals = {}
    for row in HealthRollup.objects.filter(health_check_id__in=check_ids, hour__gte=since):
        results, down = totals.get(row.health_check_id, (0, 0))
        totals[row.health_check_id] = (results + row.total, down + row.down)
    return {pk: round(100 * (r - d) / r, 2) for pk, (r, d) in totals.items()}


def assert_every_window_is_the_rows_sum(check_ids, *, today):
    for days in WINDOWS:
        since = day_start(today - timedelta(days=days - 1))
        assert uptime_over_days(check_ids, days, today=today) == summed_rows(check_ids, since), days


@pytest.mark.parametrize("zone", ["Asia/Seoul", "America/New_York", "Asia/Kolkata"])
def test_long_windows_equal_the_raw_results_in_each_time_zone(checks, settings, zone):
    settings.TIME_ZONE = zone
    now = timezone.now()
    # Every 50 minutes: hours with one result and hours with two, days of 28 or 29.
    results = record_history(checks, now=now, days=HOURLY_DAYS + 5, every=timedelta(minutes=50))
    ids = [check.pk for check in checks]
    assert count_running_totals(now=now) > 0
    assert compact(now=now) >= 4
    today = timezone.localdate(now)
    assert_every_window_is_the_rows_sum(ids, today=today)
    for days in WINDOWS:
        since = day_start(today - timedelta(days=days - 1))
        # Kolkata's midnight falls in a clock hour's row: that hour counts whole or not
        # at all, so only the compacted days' windows are exactly the raw results there.
        if since.astimezone(UTC).minute == 0 or since < now - timedelta(days=HOURLY_DAYS + 1):
            # Just after midnight today may hold no result yet: its checks are left out.
            shares = {check.pk: raw_share(results, check, since) for check in checks}
            expected = {pk: share for pk, share in shares.items() if share is not None}
            assert uptime_over_days(ids, days) == expected, days
    # The day's bounds are local: another zone's midnight falls inside a day's row,
    # which then counts whole or not at all, as summing the rows does.
    with timezone.override("Pacific/Chatham"):
        assert_every_window_is_the_rows_sum(ids, today=timezone.localdate(now))


def test_the_figures_are_the_same_however_far_the_counting_has_got(checks):
    now = timezone.now()
    record_history(checks, now=now, days=HOURLY_DAYS + 3, every=timedelta(minutes=45))
    ids = [check.pk for check in checks]
    today = timezone.localdate(now)
    # Nothing counted yet (as just after the upgrade): the rows are summed.
    assert not HealthRollup.objects.exclude(results_before=None).exists()
    assert_every_window_is_the_rows_sum(ids, today=today)
    # Counted up to two days ago, then up to the hour before the last: the windows that
    # begin before that read the totals, the others sum the last rows.
    assert count_running_totals(now=now - timedelta(days=2)) > 0
    assert_every_window_is_the_rows_sum(ids, today=today)
    assert count_running_totals(now=now) > 0
    assert count_running_totals(now=now) == 0  # safe to run twice
    uncounted = HealthRollup.objects.filter(results_before=None)
    assert {row.hour for row in uncounted} <= {hour_of(now) - timedelta(hours=1), hour_of(now)}
    assert_every_window_is_the_rows_sum(ids, today=today)
    # And across midnight: yesterday's window is today's shifted by a day.
    assert_every_window_is_the_rows_sum(ids, today=today - timedelta(days=1))


def test_each_rows_totals_are_its_checks_results_before_it(checks):
    now = timezone.now()
    record_history(checks, now=now, days=3, every=timedelta(minutes=20))
    count_running_totals(now=now)
    for check in checks:
        results = down = 0
        for row in HealthRollup.objects.filter(health_check=check).order_by("hour"):
            if row.results_before is not None:
                assert (row.results_before, row.down_before) == (results, down)
            results, down = results + row.total, down + row.down


def test_compacting_and_pruning_keep_the_figures(checks, settings):
    settings.HEALTH_ROLLUP_RETENTION_DAYS = 20
    now = timezone.now()
    record_history(checks, now=now, days=25, every=timedelta(hours=1))
    ids = [check.pk for check in checks]
    today = timezone.localdate(now)
    figures = {
        days: summed_rows(ids, day_start(today - timedelta(days=days - 1))) for days in (7, 20)
    }
    summary = rollups_prune(now=now)
    assert summary["rollups_counted"] > 0
    assert summary["rollup_days_compacted"] > 0 and summary["rollups_deleted"] > 0
    for days, expected in figures.items():
        assert uptime_over_days(ids, days, today=today) == expected
    assert_every_window_is_the_rows_sum(ids, today=today)
    # A daily row carries its first hour's totals.
    day = HealthRollup.objects.filter(hours=24, health_check=checks[0]).earliest("hour")
    before = HealthRollup.objects.filter(health_check=checks[0], hour__lt=day.hour)
    assert before.count() == 0 or day.results_before > 0
    assert rollups_prune(now=now)["rollups_counted"] == 0


def test_checks_with_gaps_new_or_silent_are_read_right(checks, django_assert_num_queries):
    """A check that missed the window's first hour, one that began yesterday, and one with
    no result in the window are looked for one by one; the others in one query."""
    steady, gappy, silent = checks
    now = timezone.now()
    record_history([steady, gappy, silent], now=now - timedelta(days=40), days=3)
    record_history([steady, gappy], now=now, days=35, every=timedelta(minutes=40))
    newcomer = HealthCheck.objects.create(slug="new", service=steady.service, target="/")
    record_history([newcomer], now=now, days=1, every=timedelta(minutes=40))
    since = day_start(timezone.localdate(now) - timedelta(days=29))
    HealthRollup.objects.filter(health_check=gappy, hour__lt=since + timedelta(hours=5)).filter(
        hour__gte=since - timedelta(hours=2)
    ).delete()
    count_running_totals(now=now)
    ids = [steady.pk, gappy.pk, silent.pk, newcomer.pk]
    expected = summed_rows(ids, since)
    assert set(expected) == {steady.pk, gappy.pk, newcomer.pk}
    assert uptime_over_days(ids, 30) == expected
    # The last counted hour, the rows at both edges, the rows where the checks missing
    # one edge have theirs, and those rows, and the uncounted rows.
    with django_assert_num_queries(5):
        counts_since(ids, since)
    with django_assert_num_queries(3):
        counts_since([steady.pk], since)


def test_a_row_written_after_its_hour_was_counted_is_summed_not_misread(checks):
    """A scan more than an hour late adding a row to a counted hour: that check's window
    is summed row by row."""
    steady, late, _ = checks
    now = timezone.now()
    record_history([steady, late], now=now, days=12, every=timedelta(hours=1))
    count_running_totals(now=now)
    ids = [steady.pk, late.pk]
    for since in (day_start(timezone.localdate(now) - timedelta(days=9)), hour_of(now)):
        HealthRollup.objects.filter(health_check=late, hour=since).delete()
        HealthRollup.objects.create(health_check=late, hour=since, up=3, down=2)
        counted = HealthRollup.objects.filter(health_check=late).exclude(results_before=None)
        assert counted.exists()
        assert counts_since(ids, since) == {
            pk: (sum(r.total for r in rows), sum(r.down for r in rows))
            for pk in ids
            for rows in [HealthRollup.objects.filter(health_check_id=pk, hour__gte=since)]
        }


def test_the_closed_hours_read_after_a_gap_are_the_rows_summed(checks):
    """What the hour's first scan after a gap reads (the 23 and 167 hours before it, from
    the running totals at their ends) equals summing those rows, with the hourly job hours
    behind and a check missing the week's first hours; the hour itself left out."""
    _steady, gappy, _other = checks
    now = timezone.now()
    hour = hour_of(now)
    record_history(checks, now=now, days=9, every=timedelta(minutes=25))
    # And a scan now, so that the hour being scanned has rows to leave out whatever the
    # minute (every 25 minutes from nine days ago may stop short of it).
    record_history(checks, now=now, days=0)
    assert count_running_totals(now=now - timedelta(hours=5)) > 0
    HealthRollup.objects.filter(health_check=gappy, hour__lt=hour - timedelta(hours=160)).delete()
    expected = {}
    for check in checks:
        rows = HealthRollup.objects.filter(health_check=check, hour__lt=hour)
        day = rows.filter(hour__gte=hour - timedelta(hours=23))
        week = rows.filter(hour__gte=hour - timedelta(hours=167))
        expected[check.pk] = [
            sum(row.total for row in day),
            sum(row.down for row in day),
            sum(row.total for row in week),
            sum(row.down for row in week),
        ]
    assert HealthRollup.objects.filter(hour=hour).exists()
    assert closed_hours([check.pk for check in checks], hour) == expected


def test_both_windows_read_in_one_pass_are_each_the_rows_summed(checks):
    """The closed hours' two windows are read together: a check missing the day's first
    hours (looked for by id in both) and one whose row at the week's start was written
    after its hour was counted (summed row by row in that window only) read as alone."""
    _steady, gappy, late = checks
    now = timezone.now()
    hour = hour_of(now)
    record_history(checks, now=now, days=9, every=timedelta(minutes=25))
    record_history(checks, now=now, days=0)
    day_start_hour, week_start_hour = hour - timedelta(hours=23), hour - timedelta(hours=167)
    HealthRollup.objects.filter(
        health_check=gappy, hour__gte=day_start_hour, hour__lt=day_start_hour + timedelta(hours=3)
    ).delete()
    assert count_running_totals(now=now) > 0
    HealthRollup.objects.filter(health_check=late, hour=week_start_hour).delete()
    HealthRollup.objects.create(health_check=late, hour=week_start_hour, up=3, down=2)
    expected = {}
    for check in checks:
        rows = HealthRollup.objects.filter(health_check=check, hour__lt=hour)
        day = rows.filter(hour__gte=day_start_hour)
        week = rows.filter(hour__gte=week_start_hour)
        expected[check.pk] = [
            sum(row.total for row in day),
            sum(row.down for row in day),
            sum(row.total for row in week),
            sum(row.down for row in week),
        ]
    assert closed_hours([check.pk for check in checks], hour) == expected


def test_checks_younger_than_the_week_are_looked_up_at_its_start_alone(checks):
    """Two days of history: every check has its rows at the day's start and at the end,
    and none at the week's start. That edge alone is looked up by id, a row a check, and
    the rows found are read without their checks, whose order nothing reads."""
    now = timezone.now()
    hour = hour_of(now)
    record_history(checks, now=now, days=2, every=timedelta(minutes=25))
    record_history(checks, now=now, days=0)
    assert count_running_totals(now=now) > 0
    ids = [check.pk for check in checks]
    expected = {}
    for pk in ids:
        rows = HealthRollup.objects.filter(health_check_id=pk, hour__lt=hour)
        day = rows.filter(hour__gte=hour - timedelta(hours=23))
        expected[pk] = [
            sum(row.total for row in day),
            sum(row.down for row in day),
            sum(row.total for row in rows),
            sum(row.down for row in rows),
        ]
    statements = []

    def keep(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        assert closed_hours(ids, hour) == expected

    [(sql, params)] = [
        (sql, params)
        for sql, params in statements
        if sql.startswith('SELECT "portal_healthrollup"."id"')
    ]
    assert "portal_healthcheck" not in sql
    assert len(re.findall(r"\d+", params[-1])) == len(ids)
