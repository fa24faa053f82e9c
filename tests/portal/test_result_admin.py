"""The admin's list of raw scan results, which holds a result of every check for every
minute of HEALTH_RETENTION_HOURS (millions at a few thousand checks): a check's results
are found by the start of its slug and narrowed by time, status and outcome, in the same
few queries however many results and checks there are."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import Category, CheckResult, HealthCheck
from tests.factories import make_checks, make_finished_scan

RESULTS = "/admin/portal/checkresult/"


@pytest.fixture
def results(catalog):
    """Every seed item's check with a result two hours ago and one a minute ago, down
    for GitLab's a minute ago, up otherwise."""
    for category in Category.objects.all():
        make_checks(category)
    now = timezone.now()
    for ago in (timedelta(hours=2), timedelta(minutes=1)):
        scan = make_finished_scan(at=now - ago)
        CheckResult.objects.bulk_create(
            result(scan, check, down=check.slug == "gitlab-http" and ago < timedelta(hours=1))
            for check in HealthCheck.objects.all()
        )


def result(scan, check, *, down=False) -> CheckResult:
    status = "down" if down else "up"
    return CheckResult(
        scan=scan,
        health_check=check,
        checked_at=scan.started_at,
        outcome=status,
        status=status,
        latency_ms=None if down else 40.0,
    )


@pytest.fixture
def sam_client(sam):
    client = Client()
    client.force_login(sam)
    return client


def listed(response) -> list[tuple[str, str]]:
    """(check, status) of each result the list shows, newest first."""
    assert response.status_code == 200
    return [
        (str(result.health_check), result.status)
        for result in response.context["cl"].result_list
    ]


def test_a_checks_results_are_found_by_the_start_of_its_slug(results, sam_client):
    found = listed(sam_client.get(RESULTS, {"q": "gitlab-h"}))
    assert found == [("gitlab-http", "down"), ("gitlab-http", "up")]
    gitlabs = HealthCheck.objects.filter(slug__startswith="gitlab")
    assert gitlabs.count() > 1
    found = listed(sam_client.get(RESULTS, {"q": "GitLab"}))
    assert sorted(slug for slug, _status in found) == sorted(
        check.slug for check in gitlabs for _result in range(2)
    )
    # Not by the middle of a slug.
    assert listed(sam_client.get(RESULTS, {"q": "lab-http"})) == []


def test_results_are_narrowed_to_the_last_minutes_or_hours(results, sam_client):
    checks = HealthCheck.objects.count()
    assert len(listed(sam_client.get(RESULTS))) == 2 * checks
    recent = listed(sam_client.get(RESULTS, {"within": "1h"}))
    assert len(recent) == checks
    assert listed(sam_client.get(RESULTS, {"within": "1h", "status__exact": "down"})) == [
        ("gitlab-http", "down")
    ]
    assert len(listed(sam_client.get(RESULTS, {"within": "6h"}))) == 2 * checks
    # A window it does not offer is no filter at all.
    assert len(listed(sam_client.get(RESULTS, {"within": "1y"}))) == 2 * checks


def test_a_link_to_one_checks_results_still_narrows_the_list(results, sam_client):
    gitlab = HealthCheck.objects.get(slug="gitlab-http")
    response = sam_client.get(RESULTS, {"health_check__id__exact": gitlab.pk})
    assert listed(response) == [("gitlab-http", "down"), ("gitlab-http", "up")]


def test_the_list_offers_time_windows_not_every_check_nor_every_day(results, sam_client):
    page = sam_client.get(RESULTS).content.decode()
    assert "?within=15m" in page and "?within=24h" in page
    assert "health_check__id__exact" not in page  # no sidebar entry per check
    assert "checked_at__day" not in page  # no date hierarchy


def test_the_list_costs_the_same_queries_however_many_results(
    results, sam_client, django_assert_num_queries
):
    # The session's user and their permissions (two), the count of the page's results, the
    # page of results with their checks and scans.
    with django_assert_num_queries(5):
        sam_client.get(RESULTS, {"q": "gitlab", "within": "24h", "status__exact": "up"})
    scan = make_finished_scan()
    CheckResult.objects.bulk_create(
        result(scan, check) for check in HealthCheck.objects.all() for _ in range(5)
    )
    with django_assert_num_queries(5):
        sam_client.get(RESULTS, {"q": "gitlab", "within": "24h", "status__exact": "up"})
    with django_assert_num_queries(5):
        sam_client.get(RESULTS)
    # Nor are its filters' choices counted, each over every result, when asked to.
    with django_assert_num_queries(5):
        page = sam_client.get(RESULTS, {"_facets": "True"}).content.decode()
    assert "Show counts" not in page and "개수 표시" not in page
