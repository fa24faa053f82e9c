"""The status page, the SVG badges and SLOs: each item's status now and its uptime per day
from the daily rollups, against the target it promises."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from portal import pages
from portal.models import (
    CatalogRevision,
    DataStore,
    HealthCheck,
    HealthRollup,
    HealthStatus,
    Incident,
    IncidentUpdate,
    Service,
)
from portal.pages import page_state, status_today_counts
from portal.rollups import day_start, hour_of
from portal.selectors import category_overview, status_history, status_report
from portal.status import Slo, render_badge, text_width, uptime_band
from portal.visibility import Reader
from tests.factories import client_for, day_rollup, make_category, make_finished_scan
from tests.portal.test_admin import service_form
from tests.portal.test_page_renders import in_threads


def english(user=None) -> Client:
    """A client reading English (the portal's default is Korean), signed in as `user`."""
    client = client_for(user) if user else Client()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def rollups(check, days: int, *, total: int = 1000, down: int = 1):
    """A rollup a day for the last `days` days, today included."""
    today = timezone.localdate()
    HealthRollup.objects.bulk_create(
        day_rollup(check, today - timedelta(days=n), total=total, down=down) for n in range(days)
    )


@pytest.fixture
def published(catalog):
    """GitLab public with an SLO of 99.5 % over 30 days, 30 days at 99.9 %; Jenkins for
    members only; Flower hidden (and marked public, which its being hidden overrides);
    GitLab's PostgreSQL public."""
    make_finished_scan()
    Service.objects.filter(slug="gitlab").update(public_badge=True, slo_target=99.5)
    Service.objects.filter(slug="flower").update(hidden=True, public_badge=True)
    DataStore.objects.filter(slug="gitlab-postgresql").update(public_badge=True)
    gitlab = HealthCheck.objects.create(
        slug="gitlab-http",
        service=Service.objects.get(slug="gitlab"),
        target="/-/health",
        status=HealthStatus.UP,
    )
    rollups(gitlab, 30)
    flower = HealthCheck.objects.create(
        slug="flower-http",
        service=Service.objects.get(slug="flower"),
        target="/",
        status=HealthStatus.DOWN,
    )
    rollups(flower, 3, down=500)
    return gitlab


def item_html(body: str, slug: str) -> str:
    match = re.search(rf'<li class="status-item[^"]*" data-item="{slug}">(.*?)</li>', body, re.S)
    assert match, f"{slug} is not on the page"
    return match.group(1)


def bars(item: str) -> list[tuple[str, str]]:
    """An item's days as drawn, oldest first: (colour band, uptime figure of its tooltip).
    The bar is an SVG of a line per run of days in a band, from x (the day) for a length
    of days, and its data-uptimes the days' figures ("-": no data)."""
    bands = {}
    for band, lines in re.findall(r'<path class="day-(\w+)" d="([^"]+)"/>', item):
        for start, length in re.findall(r"M(\d+) \.5h(\d+)", lines):
            bands.update((day, band) for day in range(int(start), int(start) + int(length)))
    figures = re.search(r'data-uptimes="([^"]+)"', item).group(1).split(" ")
    assert sorted(bands) == list(range(len(figures))), "each day is drawn once"
    return [(bands[day], figure) for day, figure in enumerate(figures)]


def bar_label(item: str) -> str:
    return re.search(r'<svg class="uptime-bar"[^>]* aria-label="([^"]+)"', item).group(1)


def test_the_status_page_shows_each_item_with_a_bar_per_day_and_its_slo(published, bob):
    response = english(bob).get("/status/")
    assert response.status_code == 200
    body = response.content.decode()
    # The tooltips count their days back from today.
    assert f'data-today="{timezone.localdate().isoformat()}"' in body
    gitlab = item_html(body, "gitlab")
    days = bars(gitlab)
    assert len(days) == 90
    assert days[-1] == ("ok", "99.9")
    assert days[-30] == ("ok", "99.9") and days[-31] == ("none", "-")
    assert days[0] == ("none", "-")
    assert "99.9% of 99.5% · 80% of budget left" in gitlab
    assert bar_label(gitlab) == "GitLab: 99.9% uptime over the last 90 days."
    # An item with no check and no history: unknown, all grey.
    jenkins = item_html(body, "jenkins")
    assert bars(jenkins) == [("none", "-")] * 90
    assert bar_label(jenkins) == "Jenkins: no uptime data in the last 90 days."
    assert 'href="/status/" aria-current="page"' in body


def test_a_bar_says_in_words_how_many_days_fell_below_green_and_the_worst(published, bob):
    today = timezone.localdate()
    HealthRollup.objects.filter(hour=day_start(today - timedelta(days=3))).update(up=970, down=30)
    HealthRollup.objects.filter(hour=day_start(today)).update(up=995, down=5)
    gitlab = item_html(english(bob).get("/status/").content.decode(), "gitlab")
    assert bars(gitlab)[-4:] == [("major", "97"), ("ok", "99.9"), ("ok", "99.9"), ("minor", "99.5")]
    worst = (today - timedelta(days=3)).isoformat()
    # (28 * 999 + 970 + 995) / 30,000
    assert bar_label(gitlab) == (
        "GitLab: 99.79% uptime over the last 90 days. "
        f"2 days below 99.9%, the lowest 97% on {worst}."
    )


def test_an_empty_catalogs_status_page_says_how_to_load_one(bob):
    body = english(bob).get("/status/").content.decode()
    assert "The catalog is empty. Load it with: python manage.py loaddata catalog" in body
    assert "status-item" not in body


def test_members_do_not_see_hidden_items_staff_do(published, bob, sam):
    assert 'data-item="flower"' not in english(bob).get("/status/").content.decode()
    flower = item_html(english(sam).get("/status/").content.decode(), "flower")
    assert [band for band, _figure in bars(flower)].count("bad") == 3


def test_the_status_page_speaks_korean(published, bob):
    body = client_for(bob).get("/status/", headers={"accept-language": "ko"}).content.decode()
    assert "예산" in item_html(body, "gitlab")
    assert bar_label(item_html(body, "gitlab")) == "GitLab: 최근 90일 가동률 99.9%."


def test_open_incidents_head_the_status_page_with_their_latest_update(published, bob):
    gitlab = Service.objects.get(slug="gitlab")
    incident = Incident.objects.create(
        category=gitlab.category, service=gitlab, title="GitLab is down", cause="gitlab"
    )
    IncidentUpdate.objects.create(incident=incident, state="identified", text="Disk full")
    body = english(bob).get("/status/").content.decode()
    assert "GitLab is down" in body and "Disk full" in body


def test_the_status_report_costs_the_same_queries_whatever_the_catalogs_size(
    published, django_assert_num_queries
):
    # With the days before today cached: the latest scan, categories, services, data
    # stores, checks, today's rollups per item, open incidents. Without: also the past
    # rollups per item and day, and the services' and data stores' SLO windows.
    with django_assert_num_queries(10):
        small = status_report(reader=Reader(staff=True))
    big = make_category(services=40, stores=20)
    for service in big.services.all()[:25]:
        rollups(HealthCheck.objects.create(slug=service.slug, service=service, target="/"), 90)
    with django_assert_num_queries(10):
        status_report(reader=Reader(staff=True))
    history = status_history(today=timezone.localdate())
    with django_assert_num_queries(7):
        large = status_report(reader=Reader(staff=True), history=history)
    assert (
        sum(len(c.items) for c in large.categories)
        == sum(len(c.items) for c in small.categories) + 60
    )


def test_the_status_page_is_cached_until_a_scan_or_the_catalog_moves(published, bob):
    client = english(bob)
    client.get("/status/")
    with CaptureQueriesContext(connection) as cached:
        client.get("/status/")
    # The signed-in user alone: the page state and the report come from the cache.
    assert len(cached) == 1
    add_to_this_hour(published, up=0, down=1000)
    assert bars(item_html(client.get("/status/").content.decode(), "gitlab"))[-1] == ("ok", "99.9")
    make_finished_scan()
    today = bars(item_html(client.get("/status/").content.decode(), "gitlab"))[-1]
    assert today[0] == "bad"


def add_to_this_hour(check, *, up: int, down: int) -> None:
    """Results of this hour's scans, as a scan adds them to its hour's rollup."""
    row, _ = HealthRollup.objects.get_or_create(health_check=check, hour=hour_of(timezone.now()))
    HealthRollup.objects.filter(pk=row.pk).update(up=F("up") + up, down=F("down") + down)


def test_todays_bar_keeps_the_closed_hours_and_reads_the_last_two_at_each_scan(published):
    """Scans add to the hour they start in: an hour two hours past no longer changes."""
    today = timezone.localdate() - timedelta(days=1)  # a whole day of hours to place
    day = day_start(today)
    HealthRollup.objects.filter(hour=day).delete()
    for hours in (1, 8, 9, 10):
        HealthRollup.objects.create(
            health_check=published, hour=day + timedelta(hours=hours), up=60
        )
    gitlab = ("service", published.service_id)
    at_half_past_ten = day + timedelta(hours=10, minutes=30)
    revision = page_state().revision
    assert status_today_counts(today, revision=revision, now=at_half_past_ten)[gitlab] == (240, 0)
    HealthRollup.objects.filter(
        hour__in=[day + timedelta(hours=1), day + timedelta(hours=10)]
    ).update(down=F("down") + 6)
    # The hour from 9 and the one from 10 are read again, the ones before from the cache.
    assert status_today_counts(today, revision=revision, now=at_half_past_ten)[gitlab] == (246, 6)
    # Past 11, the hour from 9 is closed too, and the closed hours read once more.
    past_eleven = at_half_past_ten + timedelta(hours=1)
    assert status_today_counts(today, revision=revision, now=past_eleven)[gitlab] == (252, 12)


def test_after_a_scan_the_page_reads_only_what_a_scan_changes_whatever_the_catalogs_size(
    published, bob
):
    client = english(bob)
    client.get("/status/")
    make_finished_scan()
    with CaptureQueriesContext(connection) as small:
        shown = client.get("/status/").content.decode().count('<li class="status-item')
    big = make_category(services=40, stores=20)
    for service in big.services.all()[:25]:
        rollups(HealthCheck.objects.create(slug=service.slug, service=service, target="/"), 90)
    CatalogRevision.bump()
    client.get("/status/")
    make_finished_scan()
    with CaptureQueriesContext(connection) as large:
        body = client.get("/status/").content.decode()
    # The signed-in user, page_state, the checks' statuses, today's rollups per item and
    # the open incidents: the items and their days before today are kept for the day.
    assert len(small) == len(large) == 5
    assert body.count('<li class="status-item') == shown + 60


def test_the_days_before_today_are_kept_for_the_day_a_scan_renews_only_today(published, bob):
    """A past day's rollups change only by compaction (the same figures) or pruning, so
    the page keeps its bars until the day changes or the catalog changes what they are
    drawn from: which item a check counts for, an SLO's window."""
    client = english(bob)
    client.get("/status/")
    yesterday = timezone.localdate() - timedelta(days=1)
    HealthRollup.objects.filter(hour=day_start(yesterday)).update(up=0, down=1000)
    make_finished_scan()
    gitlab = item_html(client.get("/status/").content.decode(), "gitlab")
    assert bars(gitlab)[-2:] == [("ok", "99.9"), ("ok", "99.9")]
    assert gitlab_days(client)[-2:] == [99.9, 99.9]
    # Renamed: the page shows the new name, over the bars it had.
    service = Service.objects.get(slug="gitlab")
    service.name = "GitLab CE"
    service.save()
    gitlab = item_html(client.get("/status/").content.decode(), "gitlab")
    assert bar_label(gitlab).startswith("GitLab CE: ")
    assert bars(gitlab)[-2:] == [("ok", "99.9"), ("ok", "99.9")]
    # A shorter SLO window: the days are summed again.
    service.slo_window_days = 7
    service.save()
    gitlab = item_html(client.get("/status/").content.decode(), "gitlab")
    assert bars(gitlab)[-2:] == [("bad", "0"), ("ok", "99.9")]
    assert f"the lowest 0% on {yesterday.isoformat()}" in bar_label(gitlab)
    assert gitlab_days(client)[-2:] == [0.0, 99.9]


def test_a_catalog_write_that_leaves_the_days_layout_does_not_sum_them_again(published, bob):
    client = english(bob)
    client.get("/status/")
    service = Service.objects.get(slug="jenkins")
    service.summary = "Pipelines"
    service.save()
    with CaptureQueriesContext(connection) as after_write:
        client.get("/status/")
    # The user, the page state, the catalog's group limits, what the days are drawn from
    # (checks, services' and data stores' SLO windows), the items (categories, services,
    # data stores), the checks' statuses, today's rollups per item, the open incidents:
    # never the rollups of the days before today.
    assert len(after_write) == 12
    summed_days = [q for q in after_write if "GROUP BY" in q["sql"] and "hour" in q["sql"]]
    assert len(summed_days) == 1  # today's


def test_a_check_moved_or_deleted_takes_its_days_with_it(published, bob):
    client = english(bob)
    client.get("/status/")
    published.service = Service.objects.get(slug="jenkins")
    published.save()
    body = client.get("/status/").content.decode()
    assert bars(item_html(body, "jenkins"))[-30:] == [("ok", "99.9")] * 30
    assert bars(item_html(body, "gitlab")) == [("none", "-")] * 90
    published.delete()
    body = client.get("/status/").content.decode()
    assert bars(item_html(body, "jenkins")) == [("none", "-")] * 90


@pytest.mark.django_db(transaction=True)
def test_readers_arriving_together_sum_the_days_and_draw_the_page_once(published, bob, monkeypatch):
    built = []

    def slow(build):
        def counted(**kwargs):
            built.append(build.__name__)
            time.sleep(0.3)  # long enough for the other reader to miss the cache
            return build(**kwargs)

        return counted

    monkeypatch.setattr(pages, "status_history", slow(pages.status_history))
    monkeypatch.setattr(pages, "status_listing", slow(pages.status_listing))

    def get():
        try:
            return item_html(english(bob).get("/status/").content.decode(), "gitlab")
        finally:
            connection.close()  # each thread's own connection

    first, second = in_threads(2, get)
    assert sorted(built) == ["status_history", "status_listing"]
    assert first == second and bars(first)[-1] == ("ok", "99.9")


def gitlab_days(client) -> list:
    """GitLab's daily uptimes in /api/status/."""
    devops = next(
        c for c in client.get("/api/status/").json()["categories"] if c["slug"] == "devops"
    )
    return [
        day["uptime"] for day in next(i for i in devops["items"] if i["slug"] == "gitlab")["days"]
    ]


# Badges

BADGE = "/badges/devops/{item}/{kind}.svg"


def test_a_public_badge_shows_the_status_in_its_colour_and_is_cacheable(published):
    response = english().get(BADGE.format(item="gitlab", kind="status"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    svg = response.content.decode()
    assert svg.startswith("<svg") and "<title>status: up</title>" in svg
    assert 'fill="#4c1"' in svg
    assert "@font-face" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert response["Cache-Control"] == "max-age=300, public"
    assert "Accept-Language" in response["Vary"]
    etag = response["ETag"]
    again = english().get(
        BADGE.format(item="gitlab", kind="status"), headers={"if-none-match": etag}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "kind, figure, colour",
    [
        ("uptime-7d", "99.9%", "#4c1"),
        ("uptime-30d", "99.9%", "#4c1"),
        ("uptime-90d", "99.9%", "#4c1"),
    ],
)
def test_an_uptime_badge_shows_the_uptime_over_its_window(published, kind, figure, colour):
    svg = english().get(BADGE.format(item="gitlab", kind=kind)).content.decode()
    days = kind.removeprefix("uptime-").removesuffix("d")
    assert f"<title>uptime {days}d: {figure}</title>" in svg
    assert f'fill="{colour}"' in svg


def test_an_uptime_badge_without_history_says_so_in_grey(published):
    svg = english().get(BADGE.format(item="gitlab-postgresql", kind="uptime-30d")).content.decode()
    assert "<title>uptime 30d: no data</title>" in svg and 'fill="#9f9f9f"' in svg


def test_a_down_item_with_a_bad_week_is_red(published, sam):
    svg = english(sam).get(BADGE.format(item="flower", kind="uptime-7d")).content.decode()
    assert "<title>uptime 7d: 50%</title>" in svg and 'fill="#e05d44"' in svg
    status = english(sam).get(BADGE.format(item="flower", kind="status")).content.decode()
    assert "status: down" in status and 'fill="#e05d44"' in status


def test_a_members_badge_is_private_to_their_browser(published, bob):
    response = english(bob).get(BADGE.format(item="jenkins", kind="status"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=300, private"


def test_an_unknown_badge_kind_or_item_is_404(published, sam):
    client = english(sam)
    assert client.get("/badges/devops/gitlab/uptime-14d.svg").status_code == 404
    assert client.get(BADGE.format(item="nope", kind="status")).status_code == 404
    assert client.get("/badges/identity-access/gitlab/status.svg").status_code == 404


def test_a_badge_is_read_in_the_readers_language(published):
    svg = (
        Client()
        .get(BADGE.format(item="gitlab", kind="status"), headers={"accept-language": "ko"})
        .content.decode()
    )
    assert "<title>상태:" in svg


def test_badge_width_fits_wide_characters():
    assert text_width("up") == 14
    assert text_width("정상") == 24
    svg = render_badge("status", "up", "up")
    assert 'width="76"' in svg  # (6 * 7 + 10) + (2 * 7 + 10)


# SLO arithmetic


@pytest.mark.parametrize(
    "uptime, left, met",
    [(99.71, 42.0, True), (99.5, 0.0, True), (100, 100.0, True), (99.0, -100.0, False)],
)
def test_the_error_budget_left_is_the_share_of_100_minus_target_not_spent(uptime, left, met):
    slo = Slo(target=99.5, window_days=30, uptime=uptime)
    assert slo.budget_left == left
    assert slo.met is met


def test_an_slo_without_results_has_no_budget_figure():
    slo = Slo(target=99.9, window_days=7, uptime=None)
    assert slo.budget_left is None and slo.met is None
    with translation.override("en"):
        assert slo.label == "SLO 99.9% over 7 days: no data yet"


def test_the_slo_is_measured_over_its_window_from_generated_rollups(published):
    gitlab = Service.objects.get(slug="gitlab")
    today = timezone.localdate()
    # 20 more days long ago at 90 %: outside a 30-day window, inside a 60-day one.
    HealthRollup.objects.bulk_create(
        day_rollup(published, today - timedelta(days=30 + n), total=1000, down=100)
        for n in range(20)
    )
    report = status_report(reader=Reader(staff=False))
    slo = report.now[("service", gitlab.pk)].slo
    assert (slo.uptime, slo.budget_left) == (99.9, 80.0)
    gitlab.slo_window_days = 60
    gitlab.save()
    report = status_report(reader=Reader(staff=False))
    slo = report.now[("service", gitlab.pk)].slo
    assert slo.uptime == 95.94  # (30 * 999 + 20 * 900) / 50,000
    assert slo.met is False


@pytest.mark.parametrize(
    "uptime, band",
    [(None, "none"), (100, "ok"), (99.95, "ok"), (99.5, "minor"), (97, "major"), (50, "bad")],
)
def test_a_days_uptime_picks_its_colour(uptime, band):
    assert uptime_band(uptime) == band


# The Admin UI


def test_an_admin_marks_an_item_public_and_sets_its_slo(catalog, alice_client):
    jenkins = Service.objects.get(slug="jenkins")
    url = f"/admin/portal/service/{jenkins.pk}/change/"
    form = service_form(jenkins, public_badge="on", slo_target="99.5", slo_window_days=7)
    windows = {"maintenance_windows-TOTAL_FORMS": "0", "maintenance_windows-INITIAL_FORMS": "0"}
    response = alice_client.post(url, {**form, **windows})
    assert response.status_code == 302
    jenkins.refresh_from_db()
    assert (jenkins.public_badge, jenkins.slo_target, jenkins.slo_window_days) == (True, 99.5, 7)


@pytest.mark.parametrize(
    "changes, field",
    [({"slo_target": "100"}, "slo_target"), ({"slo_window_days": "91"}, "slo_window_days")],
)
def test_an_slo_that_leaves_no_budget_or_outruns_the_history_is_refused(
    catalog, alice_client, changes, field
):
    jenkins = Service.objects.get(slug="jenkins")
    url = f"/admin/portal/service/{jenkins.pk}/change/"
    response = alice_client.post(url, service_form(jenkins, **changes))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {field}
    jenkins.refresh_from_db()
    assert jenkins.slo_target is None and jenkins.slo_window_days == 30


# JSON


def test_the_status_json_has_what_the_page_shows(published, bob):
    data = english(bob).get("/api/status/").json()
    assert data["days"] == 90
    devops = next(c for c in data["categories"] if c["slug"] == "devops")
    gitlab = next(i for i in devops["items"] if i["slug"] == "gitlab")
    assert gitlab["status"] == "up" and gitlab["kind"] == "service"
    assert gitlab["slo"] == {
        "target": 99.5,
        "window_days": 30,
        "uptime": 99.9,
        "budget_left": 80.0,
        "met": True,
    }
    assert len(gitlab["days"]) == 90 and gitlab["days"][-1]["uptime"] == 99.9
    assert gitlab["days"][0]["uptime"] is None
    assert all(i["slug"] != "flower" for i in devops["items"])


def test_the_status_json_is_kept_until_the_next_scan(published, bob):
    client = english(bob)
    client.get("/api/status/")
    with CaptureQueriesContext(connection) as cached:
        assert gitlab_days(client)[-1] == 99.9
    assert len(cached) == 1  # the signed-in user: the answer comes from the cache
    add_to_this_hour(published, up=0, down=1000)
    assert gitlab_days(client)[-1] == 99.9
    make_finished_scan()
    assert gitlab_days(client)[-1] == round(100 * 999 / 2000, 2)


def test_a_member_after_staff_gets_the_status_json_without_hidden_items(published, bob, sam):
    staff = {
        item["slug"]
        for c in english(sam).get("/api/status/").json()["categories"]
        for item in c["items"]
    }
    member = {
        item["slug"]
        for c in english(bob).get("/api/status/").json()["categories"]
        for item in c["items"]
    }
    assert "flower" in staff and "flower" not in member
    assert member == staff - {"flower"}


def test_an_items_history_json_gives_its_daily_uptime(published, bob, sam):
    data = english(bob).get("/api/items/devops/gitlab/history/?days=7").json()
    assert data["category"] == "devops" and data["item"] == "gitlab"
    assert [day["uptime"] for day in data["days"]] == [99.9] * 7
    assert data["days"][-1]["day"] == timezone.localdate().isoformat()
    assert data["slo"]["budget_left"] == 80.0
    assert english(bob).get("/api/items/devops/flower/history/").status_code == 404
    assert len(english(sam).get("/api/items/devops/flower/history/").json()["days"]) == 90


@pytest.mark.parametrize("days", ["0", "401", "many"])
def test_a_history_of_a_bad_number_of_days_is_refused(published, bob, days):
    response = english(bob).get(f"/api/items/devops/gitlab/history/?days={days}")
    assert response.status_code == 422


# The category page's cards


def test_a_card_shows_its_slo_for_one_more_query(published, bob, django_assert_num_queries):
    with django_assert_num_queries(8):
        overview = category_overview(slug="identity-access", reader=Reader(staff=False))
    assert all(store.slo is None for store in overview.data_stores)
    with django_assert_num_queries(9):
        overview = category_overview(slug="devops", reader=Reader(staff=False))
    gitlab = next(service for service in overview.services if service.slug == "gitlab")
    assert gitlab.slo.budget_left == 80.0
    body = english(bob).get("/categories/devops/").content.decode()
    assert "99.9% of 99.5% · 80% of budget left" in body
    data = english(bob).get("/api/categories/devops/").json()
    slos = {service["slug"]: service["slo"] for service in data["services"]}
    assert slos["gitlab"]["budget_left"] == 80.0 and slos["jenkins"] is None


def test_an_item_limited_to_groups_is_on_the_status_page_and_badges_of_its_groups_only(
    published, bob
):
    Service.objects.filter(slug="gitlab").update(visible_to_groups=["/platform/devops"])
    client = english(bob)
    slugs = {
        item["slug"]
        for category in client.get("/api/status/").json()["categories"]
        for item in category["items"]
    }
    assert "gitlab" not in slugs and "jenkins" in slugs
    assert 'data-item="gitlab"' not in client.get("/status/").content.decode()
    # Public or not, a limited item's badge and history do not exist for outsiders.
    assert client.get("/badges/devops/gitlab/status.svg").status_code == 404
    assert Client().get("/badges/devops/gitlab/status.svg").status_code == 404
    assert client.get("/api/items/devops/gitlab/history/").status_code == 404

    bob.groups.add(Group.objects.create(name="/platform/devops"))
    slugs = {
        item["slug"]
        for category in client.get("/api/status/").json()["categories"]
        for item in category["items"]
    }
    assert "gitlab" in slugs
    assert client.get("/badges/devops/gitlab/status.svg").status_code == 200
    assert client.get("/api/items/devops/gitlab/history/").status_code == 200


def test_a_data_stores_slo_on_its_categorys_page_is_its_own_before_and_after_a_scan(
    published, bob
):
    store = DataStore.objects.get(slug="gitlab-postgresql")
    store.slo_target = 99.0
    store.save()
    check = HealthCheck.objects.create(
        slug="gitlab-postgresql-tcp",
        data_store=store,
        kind="tcp",
        target="db:5432",
        status=HealthStatus.UP,
    )
    rollups(check, 30, down=5)
    client = english(bob)

    def slo_lines() -> list[str]:
        page = client.get("/categories/devops/").text
        return re.findall(r'<p class="slo slo-\w+" data-slo>([^<]+)</p>', page)

    assert "99.5% of 99% · 50% of budget left" in slo_lines()  # the page drawn whole
    make_finished_scan()
    assert "99.5% of 99% · 50% of budget left" in slo_lines()  # its health drawn again
