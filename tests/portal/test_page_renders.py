"""A catalog page is rendered once per key however many readers ask at once, and after a
scan only its health is rendered again: the catalog part is kept per catalog revision,
language and kind of reader, whatever the scan and the reader's time zone
(portal/pages.py, portal/slots.py)."""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.template import engines
from django.test import Client
from django.utils import timezone

from portal import pages, slots
from portal.models import (
    CatalogRevision,
    Category,
    ChecklistItem,
    DataStore,
    HealthCheck,
    MaintenanceWindow,
    Service,
)
from portal.page_copies import page_copies
from tests.factories import make_category, make_checks, make_finished_scan

CATALOG = "portal/_category_body.html"
HEALTH = "portal/_category_health.html"
TIMES = "portal/_category_times.html"


def rendered(response) -> set[str]:
    return {template.name for template in response.templates}


def main_content(html: str) -> str:
    """The page without its top bar and its forms' CSRF tokens (they differ per response)."""
    return CSRF_TOKEN.sub("", html[html.index('<main class="page">') :])


CSRF_TOKEN = re.compile(r'(?<=name="csrfmiddlewaretoken" value=")[^"]+')


class SlowBuild:
    """A build that takes a while and counts its calls."""

    def __init__(self, seconds=0.3):
        self.seconds = seconds
        self.calls = 0

    def __call__(self):
        self.calls += 1
        time.sleep(self.seconds)
        return f"built {self.calls}"


def in_threads(count, call):
    results = [None] * count

    def run(index):
        results[index] = call()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_readers_who_come_together_wait_for_one_render():
    build = SlowBuild()
    results = in_threads(4, lambda: pages.cached_once("portal:test:page", build))
    assert build.calls == 1
    assert results == ["built 1"] * 4
    assert cache.get("portal:test:page") == "built 1"


def test_a_reader_renders_it_themselves_when_the_first_renderer_never_finishes(monkeypatch):
    monkeypatch.setattr(pages, "RENDER_WAIT_SECONDS", 0.2)
    # A renderer that died holding its claim: the claim lapses, readers do not wait for it.
    cache.add("portal:test:page:building", True, 60)
    build = SlowBuild(seconds=0)
    started = time.monotonic()
    assert pages.cached_once("portal:test:page", build) == "built 1"
    assert 0.2 <= time.monotonic() - started < 2
    assert build.calls == 1


def test_readers_waiting_on_a_failed_render_render_it_themselves():
    def broken():
        time.sleep(0.2)
        raise RuntimeError("template error")

    def first_reader():
        with pytest.raises(RuntimeError):
            pages.cached_once("portal:test:page", broken)

    first = threading.Thread(target=first_reader)
    first.start()
    time.sleep(0.05)  # the first reader holds the claim
    build = SlowBuild(seconds=0)
    started = time.monotonic()
    assert pages.cached_once("portal:test:page", build) == "built 1"
    # Right after the failure, not at the end of RENDER_WAIT_SECONDS.
    assert time.monotonic() - started < pages.RENDER_WAIT_SECONDS / 2
    first.join()
    assert build.calls == 1


def test_a_reader_who_waited_in_vain_leaves_the_renderers_claim_alone(monkeypatch):
    monkeypatch.setattr(pages, "RENDER_WAIT_SECONDS", 0.1)
    cache.add("portal:test:page:building", "someone else", 60)
    pages.cached_once("portal:test:page", SlowBuild(seconds=0))
    assert cache.get("portal:test:page:building") == "someone else"


def test_a_failed_render_leaves_no_claim_behind():
    def broken():
        raise RuntimeError("template error")

    with pytest.raises(RuntimeError):
        pages.cached_once("portal:test:page", broken)
    build = SlowBuild(seconds=0)
    started = time.monotonic()
    assert pages.cached_once("portal:test:page", build) == "built 1"
    assert time.monotonic() - started < pages.RENDER_WAIT_SECONDS / 2


@pytest.mark.django_db(transaction=True)
def test_two_cold_requests_for_one_page_render_it_once(catalog, bob, monkeypatch):
    renders = []
    render = pages.category_page

    def counted(**kwargs):
        renders.append(kwargs["slug"])
        time.sleep(0.3)  # long enough for the other request to miss the cache
        return render(**kwargs)

    monkeypatch.setattr(pages, "category_page", counted)

    def get():
        client = Client()
        client.force_login(bob)
        try:
            return main_content(client.get("/categories/devops/").text)
        finally:
            connection.close()  # each thread's own connection

    first, second = in_threads(2, get)
    assert renders == ["devops"]
    assert first == second and "DevOps Guide" in first


@pytest.fixture
def scanned(catalog):
    for category in Category.objects.all():
        make_checks(category)
    make_finished_scan()


def test_after_a_scan_only_the_health_is_rendered(scanned, bob_client):
    first = bob_client.get("/categories/devops/")
    assert {CATALOG, HEALTH} <= rendered(first)
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down")
    make_finished_scan()
    after_scan = bob_client.get("/categories/devops/")
    assert {HEALTH, TIMES} <= rendered(after_scan) and CATALOG not in rendered(after_scan)
    assert "Major Outage" in after_scan.text and "System Optimal" in first.text
    # The same page as a full render gives.
    cache.clear()
    page_copies.clear()
    assert main_content(bob_client.get("/categories/devops/").text) == main_content(after_scan.text)


def test_another_time_zone_renders_only_the_times(scanned, bob_client):
    bob_client.get("/categories/devops/")
    bob_client.cookies["tz"] = "America/New_York"
    elsewhere = bob_client.get("/categories/devops/")
    assert TIMES in rendered(elsewhere)
    assert CATALOG not in rendered(elsewhere) and HEALTH not in rendered(elsewhere)
    assert 'data-time-zone="America/New_York"' in elsewhere.text
    cache.clear()
    page_copies.clear()
    assert main_content(bob_client.get("/categories/devops/").text) == main_content(elsewhere.text)


def test_a_catalog_change_or_another_language_renders_the_catalog_again(scanned, bob_client):
    bob_client.get("/categories/devops/")
    jenkins = Service.objects.get(slug="jenkins")
    jenkins.summary = "Declarative pipelines"
    jenkins.save()
    changed = bob_client.get("/categories/devops/")
    assert CATALOG in rendered(changed) and "Declarative pipelines" in changed.text
    bob_client.cookies["django_language"] = "en"
    english = bob_client.get("/categories/devops/")
    assert CATALOG in rendered(english) and "Core service snapshot" in english.text


def test_staff_and_members_do_not_share_a_catalog_part(scanned, bob_client, alice_client):
    flower = Service.objects.get(slug="flower")
    flower.hidden = True
    flower.save()
    member_page = bob_client.get("/categories/devops/")
    staff_page = alice_client.get("/categories/devops/")
    assert CATALOG in rendered(staff_page)
    assert "Celery 작업 모니터링 UI" in staff_page.text
    assert "Celery 작업 모니터링 UI" not in member_page.text


def test_text_cannot_pose_as_a_slot():
    # A slot is "<" and a NUL around a name: text is escaped, so its "<" never makes one
    # (PostgreSQL refuses a NUL in text anyway; SQLite stores it).
    text = f"before {slots.MARK}line{slots.MARK} after"
    rendered = engines["django"].from_string("{{ text }}{% load portal_slots %}{% slot 'line' %}")
    page = rendered.render({"text": text})
    assert page.count(slots.MARK) == 2  # the tag's own slot, nothing from the text
    assert slots.splice(page.encode(), {b"line": b"[health]"}).decode() == (
        "before &lt;\x00line&lt;\x00 after[health]"
    )


def test_what_the_next_scan_replaces_is_kept_a_few_scan_intervals(
    scanned, bob_client, settings, monkeypatch
):
    settings.HEALTH_SCAN_INTERVAL = 60
    kept = {}
    set_in_cache = cache.set

    def recording_set(key, value, timeout=None, **kwargs):
        kept[key.split(":")[1]] = timeout
        return set_in_cache(key, value, timeout, **kwargs)

    monkeypatch.setattr(cache, "set", recording_set)
    bob_client.get("/categories/devops/")
    assert kept["category"] == kept["category-health"] == 3 * 60
    assert kept["category-catalog"] == pages.PAGE_CACHE_SECONDS


@pytest.fixture
def eventful_big(django_user_model):
    """A category whose health has a bit of everything, and dana, in the group that a few
    of its items are limited to."""
    category = make_category("big", services=30, stores=10, items=4, hidden_every=7)
    make_checks(category)
    DataStore.objects.filter(name__in=["Store 2", "Store 5"]).update(
        visible_to_groups=["/platform/devops"]
    )
    Service.objects.filter(name="Service 10").update(visible_to_groups=["/platform/devops"])
    Service.objects.filter(name="Service 6").update(slo_target=99.5)
    DataStore.objects.filter(name="Store 4").update(slo_target=99.0, slo_window_days=7)
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=Service.objects.get(name="Service 9"),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    steps = list(ChecklistItem.objects.filter(category=category))
    HealthCheck.objects.get(service__name="Service 1").checklist_items.add(steps[0])
    HealthCheck.objects.get(service__name="Service 7").checklist_items.add(steps[0], steps[1])
    CatalogRevision.bump()
    make_finished_scan()
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    dana.groups.add(Group.objects.create(name="/platform/devops"))
    return dana


def scan_with_news():
    """A scan after which stores are down (their users' cards say so), a probe waits for
    confirmation, a check has a detail to escape and the checklist's checks changed."""
    HealthCheck.objects.filter(data_store__name__in=["Store 2", "Store 3"]).update(
        status="down", detail='refused <b>"5432"</b>'
    )
    HealthCheck.objects.filter(service__name="Service 8").update(
        status="unknown", consecutive_failures=1
    )
    HealthCheck.objects.filter(service__name__in=["Service 1", "Service 7"]).update(
        status="degraded", detail="slow & steady"
    )
    make_finished_scan()


@pytest.mark.parametrize("reader", ["alice", "bob", "eventful_big"])
def test_after_a_scan_the_health_alone_reads_as_a_page_rendered_afresh(
    eventful_big, reader, request
):
    client = Client()
    client.force_login(request.getfixturevalue(reader))
    before = client.get("/categories/big/")
    assert CATALOG in rendered(before)
    scan_with_news()
    after_scan = client.get("/categories/big/")
    assert HEALTH in rendered(after_scan) and CATALOG not in rendered(after_scan)
    page = main_content(after_scan.text)
    # Store 3's users say it is down; Service 9 is in maintenance; Service 6 and Store 4
    # keep an SLO; the first checklist step is verified with warnings.
    assert page.count('class="health-dependency"') >= 2
    assert "health-maintenance" in page and "data-slo" in page
    assert 'class="step-degraded"' in page
    assert "refused &lt;b&gt;&quot;5432&quot;&lt;/b&gt;" in page
    assert main_content(before.text) != page
    cache.clear()
    page_copies.clear()
    assert main_content(client.get("/categories/big/").text) == page


@pytest.fixture
def pages_kept_per_process(settings):
    """Each process keeps its own copy of the pages it served, as in front of Redis."""
    settings.PAGE_COPIES = 8


def test_a_page_served_once_is_served_again_from_this_process(
    pages_kept_per_process, scanned, bob_client
):
    first = bob_client.get("/categories/devops/")
    # The shared cache emptied: the page, megabytes for a large category, comes from this
    # process's own copy, not rendered again.
    cache.clear()
    again = bob_client.get("/categories/devops/")
    assert not {CATALOG, HEALTH, TIMES} & rendered(again)
    assert main_content(again.text) == main_content(first.text)
    # A scan moves the page's key: the next view shows it.
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down")
    make_finished_scan()
    after_scan = bob_client.get("/categories/devops/")
    assert HEALTH in rendered(after_scan) and "Major Outage" in after_scan.text
    # Its catalog part too is this process's own: with the shared cache emptied, a scan
    # renders only the health.
    assert CATALOG not in rendered(after_scan)
