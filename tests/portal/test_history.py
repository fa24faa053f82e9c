"""Long history: results rolled up per check and day (in the portal's time zone), kept for
months after the raw results are pruned, and 30/90-day uptime read from them."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings

from portal import tasks
from portal.history import rollups_build, rollups_prune, uptime_over
from portal.models import CheckResult, HealthCheck, HealthRollup, Service
from portal.scans import results_prune
from tests.factories import make_finished_scan

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def check(catalog, settings):
    settings.TIME_ZONE = "Asia/Seoul"
    return HealthCheck.objects.create(
        slug="gitlab-http", service=Service.objects.get(slug="gitlab"), target="/-/health"
    )


def results(check, day: date, *, up: int, down: int, hour: int = 12):
    """`up` and `down` results of `check` on `day` (Seoul time), a minute apart."""
    scan = make_finished_scan()
    start = datetime(day.year, day.month, day.day, hour, tzinfo=SEOUL)
    CheckResult.objects.bulk_create(
        CheckResult(
            scan=scan,
            health_check=check,
            checked_at=start + timedelta(minutes=n),
            outcome=status,
            status=status,
        )
        for n, status in enumerate(["up"] * up + ["down"] * down)
    )


def rolled(check) -> dict:
    return {r.day: (r.total, r.down) for r in HealthRollup.objects.filter(health_check=check)}


def test_results_are_counted_per_day_in_the_portals_time_zone(check):
    results(check, date(2026, 3, 1), up=9, down=1)
    # 00:30 in Seoul is still the 1st of March in UTC: it counts for the 2nd here.
    results(check, date(2026, 3, 2), up=4, down=0, hour=0)
    now = datetime(2026, 3, 2, 18, tzinfo=SEOUL)
    assert rollups_build(now=now) == {"days": 2, "rollups": 2, "since": "2026-03-01"}
    assert rolled(check) == {date(2026, 3, 1): (10, 1), date(2026, 3, 2): (4, 0)}
    assert HealthRollup.objects.get(day=date(2026, 3, 1)).uptime == 90.0


def test_building_again_recounts_the_last_days_and_changes_nothing_else(check):
    results(check, date(2026, 3, 1), up=9, down=1)
    results(check, date(2026, 3, 2), up=2, down=0)
    rollups_build(now=datetime(2026, 3, 2, 13, tzinfo=SEOUL))
    results(check, date(2026, 3, 2), up=0, down=3, hour=20)  # later that day
    rollups_build(now=datetime(2026, 3, 2, 21, tzinfo=SEOUL))
    rollups_build(now=datetime(2026, 3, 2, 21, tzinfo=SEOUL))
    assert rolled(check) == {date(2026, 3, 1): (10, 1), date(2026, 3, 2): (5, 3)}


def test_rollups_outlive_the_raw_results(check, settings):
    settings.HEALTH_RETENTION_DAYS = 14
    old_day = date(2026, 1, 1)
    results(check, old_day, up=3, down=1)
    rollups_build(now=datetime(2026, 1, 1, 23, tzinfo=SEOUL))
    make_finished_scan()  # the latest scan's results are kept; these are not its
    results_prune(now=datetime(2026, 3, 1, tzinfo=SEOUL))
    assert not CheckResult.objects.filter(checked_at__date__lte=old_day).exists()
    assert rolled(check) == {old_day: (4, 1)}


def test_uptime_over_30_and_90_days_comes_from_the_rollups(check):
    today = date(2026, 6, 30)
    HealthRollup.objects.bulk_create(
        [
            HealthRollup(health_check=check, day=today, total=100, down=0),
            HealthRollup(health_check=check, day=today - timedelta(days=29), total=100, down=10),
            HealthRollup(health_check=check, day=today - timedelta(days=30), total=100, down=50),
            HealthRollup(health_check=check, day=today - timedelta(days=89), total=100, down=40),
        ]
    )
    assert uptime_over(30, today=today) == {check.pk: 95.0}
    assert uptime_over(90, today=today) == {check.pk: 75.0}
    assert uptime_over(7, today=today - timedelta(days=60)) == {}


def test_rollups_older_than_their_retention_are_forgotten(check, settings):
    settings.HEALTH_ROLLUP_RETENTION_DAYS = 400
    now = datetime(2027, 6, 1, 12, tzinfo=SEOUL)
    keep, drop = date(2026, 5, 1), date(2026, 4, 26)
    HealthRollup.objects.bulk_create(
        HealthRollup(health_check=check, day=day, total=1, down=0) for day in (keep, drop)
    )
    assert rollups_prune(now=now) == {"rollups_deleted": 1, "rollups_before": "2026-04-27"}
    assert list(HealthRollup.objects.values_list("day", flat=True)) == [keep]


def test_nothing_to_roll_up_before_the_first_result(check):
    assert rollups_build() == {"days": 0, "rollups": 0}


def test_beat_rolls_up_hourly_and_prunes_daily(check):
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["rollup-health"]["task"] == "portal.tasks.rollup_health"
    results(check, date.today(), up=1, down=0, hour=0)
    assert tasks.rollup_health.apply().result["rollups"] == 1
    assert tasks.prune_health.apply().result["rollups_deleted"] == 0
