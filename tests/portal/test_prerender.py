"""After each scan (and each catalog or incident change), the category pages readers asked
for lately are rendered before they come back (portal.asked, portal.prerender): the first
reader after a scan reads a cached page. Only those pages, each for the kind of reader
who asked (language, time zone, visibility class), and at most PRERENDER_PAGES of them."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache, caches
from django.test import Client

from aixops.models import OutboxTask
from portal import asked, pages, prerender
from portal.models import Category, HealthCheck, Service
from portal.page_copies import page_copies
from portal.scans import scan_run
from tests.factories import make_checks, make_finished_scan
from tests.portal.test_page_renders import main_content


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scanned(catalog):
    for category in Category.objects.all():
        make_checks(category)
    make_finished_scan()


@pytest.fixture
def renders(monkeypatch):
    """Each category page rendered (not found in the cache): (slug, visibility class,
    language, time zone)."""
    from django.utils import timezone, translation

    made = []
    render = pages.category_page

    def counted(**kwargs):
        made.append(
            (
                kwargs["slug"],
                kwargs["reader"].visibility_class,
                translation.get_language(),
                timezone.get_current_timezone_name(),
            )
        )
        return render(**kwargs)

    monkeypatch.setattr(pages, "category_page", counted)
    return made


def prerenders():
    return OutboxTask.objects.filter(task=asked.PRERENDER_TASK)


def test_the_first_reader_after_a_scan_reads_the_page_ready(
    scanned, bob_client, committed, renders, django_assert_num_queries
):
    bob_client.get("/categories/devops/")
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down")
    with committed():
        make_finished_scan()
    assert prerenders().get().sent_at is not None
    assert renders == [("devops", "member", "ko", "Asia/Seoul")] * 2
    # As warm: the signed-in user alone (their pins are cached).
    with django_assert_num_queries(1):
        after_scan = bob_client.get("/categories/devops/")
    assert "Major Outage" in after_scan.text
    # The page a reader would have rendered.
    cache.clear()
    page_copies.clear()
    assert main_content(bob_client.get("/categories/devops/").text) == main_content(after_scan.text)


def test_a_scan_queues_the_render_once_it_commits(
    catalog, http_server, bob_client, committed, django_assert_num_queries
):
    HealthCheck.objects.create(
        slug="gitlab-ok", service=Service.objects.get(slug="gitlab"), target=http_server.url("/ok")
    )
    bob_client.get("/categories/devops/")
    with committed():
        summary = scan_run()
        assert prerenders().get().sent_at is None  # not before the scan commits
    assert summary["up"] == 1
    assert prerenders().get().sent_at is not None
    with django_assert_num_queries(1):
        assert bob_client.get("/categories/devops/").status_code == 200


def test_a_catalog_write_renders_the_pages_again_once(scanned, bob_client, committed, renders):
    bob_client.get("/categories/devops/")
    renders.clear()
    with committed():
        # Each row saved moves the page state; one render follows them all.
        for slug, summary in [("jenkins", "Declarative pipelines"), ("gitlab", "Merge trains")]:
            service = Service.objects.get(slug=slug)
            service.summary = summary
            service.save()
    assert prerenders().count() == 1
    assert renders == [("devops", "member", "ko", "Asia/Seoul")]
    page = bob_client.get("/categories/devops/")
    assert "Declarative pipelines" in page.text and "Merge trains" in page.text
    assert len(renders) == 1  # the reader rendered nothing


def test_nothing_is_queued_when_nobody_reads_a_category(scanned, committed):
    with committed():
        make_finished_scan()
    assert not prerenders().exists()


def test_only_the_pages_readers_asked_for_each_for_their_kind(
    scanned, bob_client, alice, django_user_model, committed, renders
):
    data = Category.objects.get(slug="workspaces")
    data.visible_to_groups = ["/platform/data"]
    data.save()
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    dana.groups.add(Group.objects.create(name="/platform/data"))
    bob_client.get("/categories/devops/")
    dana_client = client_for(dana)
    dana_client.cookies["django_language"] = "en"
    dana_client.get("/categories/workspaces/")
    # Not found for bob: a page he may not see is not recorded for him.
    assert bob_client.get("/categories/workspaces/").status_code == 404
    renders.clear()
    with committed():
        make_finished_scan()
    dana_kind = pages.page_reader(dana)[0].visibility_class
    assert dana_kind.startswith("member-")
    assert sorted(renders) == [
        ("devops", "member", "ko", "Asia/Seoul"),
        ("workspaces", dana_kind, "en", "Asia/Seoul"),
    ]
    # Staff asked for nothing, so nothing was rendered for them.
    assert "staff" not in {kind for _slug, kind, _language, _zone in renders}


def test_running_it_twice_renders_each_page_once(scanned, bob_client, renders):
    bob_client.get("/categories/devops/")
    make_finished_scan()
    renders.clear()
    first, second = prerender.pages_prerender(), prerender.pages_prerender()
    assert renders == [("devops", "member", "ko", "Asia/Seoul")]
    assert (
        first
        == second
        == {
            "state": pages.page_state().cache_key,
            "pages": 1,
            "superseded": False,
            "status_days": ["Asia/Seoul"],
        }
    )


def test_a_render_queued_for_an_older_scan_renders_the_latest(scanned, bob_client, renders):
    bob_client.get("/categories/devops/")
    make_finished_scan()
    latest = make_finished_scan()
    renders.clear()
    summary = prerender.pages_prerender()
    assert summary["state"].split(":")[1] == f"scan{latest.pk}"
    assert len(renders) == 1


def test_a_scan_during_the_render_stops_it_and_the_latest_state_is_rendered(
    scanned, bob_client, alice_client, monkeypatch, renders
):
    bob_client.get("/categories/devops/")
    alice_client.get("/categories/devops/")
    make_finished_scan()
    renders.clear()
    render = pages.category_page
    scans = []

    def then_a_scan(**kwargs):
        part = render(**kwargs)
        if not scans:
            scans.append(make_finished_scan())
        return part

    monkeypatch.setattr(pages, "category_page", then_a_scan)
    summary = prerender.pages_prerender()
    # The first pass stopped after one page; the second rendered both for the new scan.
    assert summary == {
        "state": pages.page_state().cache_key,
        "pages": 2,
        "superseded": False,
        "status_days": ["Asia/Seoul"],
    }
    assert f"scan{scans[0].pk}" in summary["state"]
    assert len(renders) == 3


def test_a_category_gone_since_it_was_asked_for_is_skipped(scanned, bob_client, renders):
    bob_client.get("/categories/devops/")
    bob_client.get("/categories/workspaces/")
    Category.objects.filter(slug="workspaces").update(visible_to_groups=["/platform/data"])
    make_finished_scan()
    renders.clear()
    assert prerender.pages_prerender()["pages"] == 1


def test_only_the_latest_pages_asked_for_are_kept(scanned, bob_client, monkeypatch):
    monkeypatch.setattr(asked, "PRERENDER_PAGES", 2)
    slugs = list(Category.objects.values_list("slug", flat=True)[:3])
    assert len(slugs) == 3
    for slug in slugs:
        bob_client.get(f"/categories/{slug}/")
    assert [page.slug for page in asked.pages_asked()] == slugs[:0:-1]


def test_a_page_read_again_is_recorded_once_per_mark_not_on_every_view(
    scanned, bob_client, monkeypatch
):
    bob_client.get("/categories/devops/")
    (page,) = asked.pages_asked()
    recorded_at = cache.get(asked.ASKED_KEY)[page]
    asks = []
    add = asked.cache.add

    def counted_add(key, *args, **kwargs):
        asks.append(key)
        return add(key, *args, **kwargs)

    monkeypatch.setattr(asked.cache, "add", counted_add)
    marked = ":".join([asked.ASKED_KEY, "devops", "ko", "Asia/Seoul", "member"])
    # This process marked the page: read again, it asks the shared cache nothing.
    bob_client.get("/categories/devops/")
    assert marked not in asks
    # Its own mark lapsed: it asks, and the shared mark (another process's, say) stands.
    caches["local"].clear()
    bob_client.get("/categories/devops/")
    assert asks.count(marked) == 1
    assert cache.get(asked.ASKED_KEY) == {page: recorded_at}
    # Both lapsed: recorded again, as asked for now.
    caches["local"].clear()
    cache.delete(marked)
    bob_client.get("/categories/devops/")
    assert cache.get(asked.ASKED_KEY)[page] > recorded_at
    assert asked.pages_asked() == [page]


def test_a_page_read_again_and_again_is_still_rendered_after_a_scan(
    scanned, bob_client, committed, renders
):
    for _ in range(3):
        bob_client.get("/categories/devops/")
    renders.clear()
    with committed():
        make_finished_scan()
    assert renders == [("devops", "member", "ko", "Asia/Seoul")]


def test_the_status_pages_days_are_summed_ahead_in_the_zones_readers_asked_in(
    scanned, bob_client, monkeypatch
):
    from django.utils import timezone

    bob_client.cookies["tz"] = "America%2FNew_York"
    bob_client.get("/categories/devops/")
    summed = []
    status_history = pages.status_history

    def counted(**kwargs):
        summed.append(timezone.get_current_timezone_name())
        return status_history(**kwargs)

    monkeypatch.setattr(pages, "status_history", counted)
    # A check moved to another item: the days are summed again, as on a new day.
    moved = HealthCheck.objects.get(service__slug="gitlab")
    moved.service = Service.objects.get(slug="jenkins")
    moved.save()
    summary = prerender.pages_prerender()
    # The zone the reader asked in, and the portal's own.
    assert summary["status_days"] == summed == ["America/New_York", "Asia/Seoul"]
    # The status page's first reader in either zone sums none of them.
    for zone in ["America%2FNew_York", "Asia%2FSeoul"]:
        bob_client.cookies["tz"] = zone
        assert "Jenkins" in bob_client.get("/status/").text
    assert summed == ["America/New_York", "Asia/Seoul"]
    # Run again: a look-up a zone.
    make_finished_scan()
    prerender.pages_prerender()
    assert summed == ["America/New_York", "Asia/Seoul"]
