"""The health rules: flap control, category status, maintenance, staleness, dependency
rollup, and the scan time in the reader's language and time zone."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.utils import timezone, translation

from portal.health import (
    MENU,
    STORE,
    SUPPORTING,
    CategoryStatus,
    ScanInfo,
    category_health,
    category_status,
    format_scan_time,
    is_stale,
    worst,
)
from portal.models import Category, HealthCheck, HealthStatus
from portal.sparklines import Sparkline

UP, DEGRADED, DOWN = HealthStatus.UP, HealthStatus.DEGRADED, HealthStatus.DOWN
MAINTENANCE, UNKNOWN = HealthStatus.MAINTENANCE, HealthStatus.UNKNOWN
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")


def feed(check: HealthCheck, *outcomes: str) -> list[str]:
    at = timezone.now()
    return [
        check.record(o, latency_ms=None if o == DOWN else 10.0, detail="", at=at) for o in outcomes
    ]


class TestFlapControl:
    def test_one_failure_does_not_take_an_up_check_down(self):
        check = HealthCheck(status=UP)
        assert feed(check, DOWN) == [UP]
        assert check.consecutive_failures == 1

    def test_down_after_two_failures_by_default(self):
        assert feed(HealthCheck(status=UP), DOWN, DOWN) == [UP, DOWN]

    def test_a_success_between_failures_resets_the_count(self):
        assert feed(HealthCheck(status=UP), DOWN, UP, DOWN, DOWN) == [UP, UP, UP, DOWN]

    def test_thresholds_are_per_check(self):
        check = HealthCheck(status=UP, failures_before_down=3, successes_before_up=2)
        assert feed(check, DOWN, DOWN, DOWN, UP, UP) == [UP, UP, DOWN, DOWN, UP]

    def test_back_up_after_one_success_by_default(self):
        assert feed(HealthCheck(status=DOWN), UP) == [UP]

    def test_a_new_check_is_unknown_until_it_has_failed_enough(self):
        assert feed(HealthCheck(), DOWN, DOWN) == [UNKNOWN, DOWN]
        assert feed(HealthCheck(), UP) == [UP]

    def test_a_slow_answer_is_degraded_at_once_and_counts_as_an_answer(self):
        check = HealthCheck(status=DOWN)
        assert feed(check, DEGRADED, UP) == [DEGRADED, UP]
        assert check.consecutive_failures == 0

    def test_the_sparkline_keeps_the_last_thirty_latencies(self):
        check = HealthCheck()
        feed(check, *([UP] * 35), DOWN)
        assert len(check.recent_latencies) == 30
        assert check.recent_latencies[-1] is None

    def test_the_sparkline_is_drawn_from_the_kept_latencies_as_they_are_recorded(self):
        check = HealthCheck()
        feed(check, UP, DOWN, UP, UP)
        drawn = Sparkline.stored(check.sparkline_points, check.sparkline_peak_ms)
        assert drawn == Sparkline.from_latencies(check.recent_latencies)
        # The failed probe breaks the line in two.
        assert len(drawn.segments) == 2

    def test_a_check_with_fewer_than_two_latencies_has_no_sparkline(self):
        check = HealthCheck()
        feed(check, UP)
        assert (check.sparkline_points, check.sparkline_peak_ms) == ("", None)
        assert Sparkline.stored(check.sparkline_points, check.sparkline_peak_ms) is None


class TestCategoryStatus:
    def test_everything_up_is_system_optimal(self):
        assert category_status([(MENU, UP), (STORE, UP)]) == CategoryStatus.OPTIMAL

    def test_items_not_checked_do_not_count(self):
        assert category_status([(MENU, UP), (MENU, UNKNOWN)]) == CategoryStatus.OPTIMAL

    def test_nothing_known_is_unknown_not_optimal(self):
        assert category_status([(MENU, UNKNOWN), (STORE, UNKNOWN)]) == CategoryStatus.UNKNOWN
        assert category_status([]) == CategoryStatus.UNKNOWN

    def test_the_health_counts_the_items_it_rests_on(self):
        scan = ScanInfo(id=1, finished_at=timezone.now(), stale=False)
        result = category_health([(MENU, UP), (STORE, DOWN), (MENU, UNKNOWN)], scan)
        assert (result.status, result.items, result.monitored) == ("partial_outage", 3, 2)
        assert result.partly_monitored
        # Items without any check can be counted without a pair each.
        result = category_health([(MENU, UP)], scan, items=9)
        assert (result.status, result.items, result.monitored) == ("optimal", 9, 1)
        assert category_health([(MENU, UNKNOWN)], scan, items=9).status == "unknown"

    def test_a_menu_service_down_is_a_major_outage(self):
        parts = [(MENU, DOWN), (STORE, DOWN), (SUPPORTING, DEGRADED)]
        assert category_status(parts) == CategoryStatus.MAJOR_OUTAGE

    @pytest.mark.parametrize("part", [SUPPORTING, STORE])
    def test_a_supporting_service_or_store_down_is_a_partial_outage(self, part):
        assert category_status([(MENU, UP), (part, DOWN)]) == CategoryStatus.PARTIAL_OUTAGE

    def test_degraded_beats_maintenance(self):
        assert category_status([(MENU, DEGRADED), (MENU, MAINTENANCE)]) == CategoryStatus.DEGRADED

    def test_maintenance_is_not_an_outage(self):
        assert category_status([(MENU, MAINTENANCE), (STORE, UP)]) == CategoryStatus.MAINTENANCE

    def test_worst_of_several_checks(self):
        assert worst([UP, DEGRADED, UNKNOWN]) == DEGRADED
        assert worst([]) == UNKNOWN


class TestStaleness:
    NOW = datetime(2025, 1, 1, 12, 0, tzinfo=SEOUL)

    def test_stale_after_three_intervals(self):
        assert not is_stale(self.NOW - timedelta(seconds=180), now=self.NOW, interval=60)
        assert is_stale(self.NOW - timedelta(seconds=181), now=self.NOW, interval=60)

    def test_a_stale_scan_makes_the_category_stale_but_keeps_the_last_known_status(self):
        scan = ScanInfo(id=1, finished_at=self.NOW, stale=True)
        result = category_health([(MENU, DOWN)], scan)
        assert (result.status, result.last_known) == ("stale", "major_outage")

    def test_no_scan_yet(self):
        assert category_health([(MENU, UP)], None).status == CategoryStatus.NO_SCAN


class TestDependencyRollup:
    def test_a_service_card_names_the_store_it_uses_that_is_down(self, catalog):
        from portal.selectors import category_overview
        from portal.visibility import Reader
        from tests.factories import make_checks, make_finished_scan

        make_checks(Category.objects.get(slug="devops"))
        HealthCheck.objects.filter(data_store__slug="gitlab-postgresql").update(status=DOWN)
        make_finished_scan()
        overview = category_overview(slug="devops", reader=Reader(staff=False))
        gitlab = next(s for s in overview.services if s.slug == "gitlab")
        jenkins = next(s for s in overview.services if s.slug == "jenkins")
        assert gitlab.health.dependencies_down == [("GitLab Internal PostgreSQL", DOWN)]
        assert gitlab.health.status == UP
        assert jenkins.health.dependencies_down == []
        assert overview.health.status == CategoryStatus.PARTIAL_OUTAGE


class TestScanTime:
    MOMENT = datetime(2025, 1, 1, 5, 36, 0, tzinfo=SEOUL)

    @pytest.mark.parametrize(
        ("language", "zone", "expected"),
        [
            ("ko", "Asia/Seoul", "오전 5:36:00"),
            ("en", "Asia/Seoul", "5:36:00 AM"),
            ("ko", "Europe/Berlin", "오후 9:36:00 CET"),
            ("en", "America/New_York", "3:36:00 PM EST"),
            ("en", "UTC", "8:36:00 PM UTC"),
            # A zone without a common abbreviation goes by its offset.
            ("en", "Asia/Dubai", "12:36:00 AM +04"),
        ],
    )
    def test_in_the_readers_language_and_time_zone_named_unless_the_portals(
        self, language, zone, expected
    ):
        with translation.override(language), timezone.override(zoneinfo.ZoneInfo(zone)):
            assert format_scan_time(self.MOMENT) == expected


def test_sparkline_scales_to_its_box_and_breaks_at_failures():
    line = Sparkline.from_latencies([10.0, 20.0, None, 40.0, 20.0])
    assert line.peak_ms == 40.0
    assert len(line.segments) == 2
    first = line.segments[0].split()
    assert first[0] == "0.0,20.0" and first[1] == "30.0,14.0"
    assert line.segments[1].split()[0] == "90.0,2.0"
    assert Sparkline.from_latencies([None, 5.0]) is None


@pytest.mark.parametrize(
    "latencies",
    [[10.0, 20.0, 40.0, 20.0], [0.0, 0.0], [3.14159, 0.05, 999.95, 12.25, 7.0] * 6],
)
def test_an_unbroken_sparkline_is_one_line_through_every_point(latencies):
    line = Sparkline.from_latencies(latencies)
    peak = max(latencies) or 1.0
    step = Sparkline.WIDTH / (len(latencies) - 1)
    # Points at evenly spaced xs, scaled into the box with a margin of 2 above and below.
    points = [f"{n * step:.1f},{26 - 24 * value / peak:.1f}" for n, value in enumerate(latencies)]
    assert line.segments == (" ".join(points),)
    assert line.peak_ms == peak
