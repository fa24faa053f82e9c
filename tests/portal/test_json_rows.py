"""Many rows in one statement (portal/json_rows.py): what a scan writes comes back as it
was sent, on PostgreSQL and SQLite alike, and a long list of keys is one parameter."""

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from portal import json_rows
from portal.models import CheckResult, HealthCheck, Scan
from tests.factories import make_category


@pytest.fixture
def checks(db):
    category = make_category("rows", services=3)
    return [
        HealthCheck.objects.create(slug=f"rows-{n}", service=service, target="/health")
        for n, service in enumerate(category.services.order_by("position"))
    ]


def test_update_writes_the_named_columns_json_as_it_was_and_leaves_the_others(checks):
    first, second, third = checks
    # An admin's edit the rows do not carry: an UPDATE of other columns keeps it.
    HealthCheck.objects.filter(pk=first.pk).update(target="/moved")
    at = timezone.now()
    first.status, first.checked_at, first.recent_latencies = "down", at, [12.5, None, 3]
    first.uptime_base = {"nested": ["list", 1.5, {"and": True}]}
    second.status, second.checked_at, second.recent_latencies = "up", None, "a string"
    second.uptime_base = 7
    third.recent_latencies, third.uptime_base = [], [0, 0, 0, 0]

    json_rows.update(
        HealthCheck, checks, ["status", "checked_at", "recent_latencies", "uptime_base"]
    )

    first.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert (first.target, first.status, first.checked_at) == ("/moved", "down", at)
    assert first.recent_latencies == [12.5, None, 3]
    assert first.uptime_base == {"nested": ["list", 1.5, {"and": True}]}
    assert (second.status, second.checked_at) == ("up", None)
    assert (second.recent_latencies, second.uptime_base) == ("a string", 7)
    assert (third.recent_latencies, third.uptime_base) == ([], [0, 0, 0, 0])


def test_values_every_row_shares_are_sent_once_and_written_to_each(checks):
    first, second, _third = checks
    at = timezone.now()
    scan = Scan.objects.create()
    first.status, second.status = "down", "up"
    rows = [
        CheckResult(health_check=check, outcome=check.status, status=check.status, detail="")
        for check in (first, second)
    ]
    sent = []

    def count_parameters(execute, sql, params, many, context):
        sent.append(len(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_parameters):
        json_rows.insert(
            CheckResult,
            rows,
            ["health_check", "outcome", "status", "detail"],
            same={"scan": scan.pk, "checked_at": at},
        )
        json_rows.update(HealthCheck, [first, second], ["status"], same={"checked_at": at})

    assert sent == [3, 2]  # the shared values, then the rows' document
    assert set(scan.results.values_list("health_check", "status", "checked_at")) == {
        (first.pk, "down", at),
        (second.pk, "up", at),
    }
    assert set(
        HealthCheck.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", "checked_at")
    ) == {("down", at), ("up", at)}


def test_among_keys_finds_the_rows_listed_and_sends_them_as_one_parameter(checks):
    first, _second, third = checks
    sent = []

    def count_parameters(execute, sql, params, many, context):
        sent.append(len(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_parameters):
        found = set(
            HealthCheck.objects.filter(
                json_rows.AmongKeys(F("pk"), [third.pk, first.pk, 10_000])
            ).values_list("slug", flat=True)
        )

    assert found == {first.slug, third.slug}
    assert sent == [1]


def test_an_appended_list_is_written_as_its_objects_hold_it_and_not_sent_to_postgresql(checks):
    first, second, third = checks
    HealthCheck.objects.filter(pk=first.pk).update(recent_latencies=[])
    HealthCheck.objects.filter(pk=second.pk).update(recent_latencies=[1, 2, 3, 1234.5])
    HealthCheck.objects.filter(pk=third.pk).update(recent_latencies=[None, *range(8)])
    for check, latency in zip(checks, [7.5, None, 9], strict=True):
        check.refresh_from_db()
        check.latency_ms = latency
        check.recent_latencies = [*check.recent_latencies, latency][-4:]
    sent = []

    def keep_parameters(execute, sql, params, many, context):
        sent.extend(params)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep_parameters):
        json_rows.update(
            HealthCheck, checks, ["latency_ms"], appended={"recent_latencies": ("latency_ms", 4)}
        )

    assert [
        HealthCheck.objects.values_list("recent_latencies", flat=True).get(pk=check.pk)
        for check in checks
    ] == [[7.5], [2, 3, 1234.5, None], [5, 6, 7, 9]]
    # PostgreSQL adds each check's latency to the list it has: the lists are not sent.
    assert ("1234.5" in sent[-1]) == (connection.vendor != "postgresql")
