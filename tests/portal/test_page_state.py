"""The page state (catalog revision, latest finished scan, last incident change) is kept in
the cache, so a warm page costs only the signed-in user; each of its writers forgets it,
so a page shows a scan, a catalog edit or an incident update on the very next view."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from portal.incidents import incident_post_update
from portal.models import CatalogRevision, HealthCheck, Incident, Service
from portal.pages import page_state
from portal.scans import scan_run
from portal.state_cache import PAGE_STATE_KEY
from tests.factories import make_checks, make_finished_scan

DEVOPS = "/categories/devops/"


def english(client):
    client.cookies["django_language"] = "en"
    return client


def test_a_warm_page_reads_the_page_state_from_the_cache(
    catalog, bob_client, django_assert_num_queries
):
    bob_client.get(DEVOPS)
    # The signed-in user alone: neither the page state, the page nor their pinned tools
    # (cached per member) ask the database.
    with django_assert_num_queries(1):
        assert bob_client.get(DEVOPS).status_code == 200


def test_a_finished_scan_shows_on_the_next_view(catalog, bob_client, http_server):
    page = english(bob_client).get(DEVOPS).text
    assert "No scan yet" in page
    HealthCheck.objects.create(
        slug="gitlab-ok", service=Service.objects.get(slug="gitlab"), target=http_server.url("/ok")
    )
    summary = scan_run()
    assert summary["checked"] == 1
    page = bob_client.get(DEVOPS).text
    assert "No scan yet" not in page
    assert page_state().scan.id == summary["scan"]


def test_an_incident_update_shows_on_the_next_view(catalog, bob_client, alice):
    gitlab = Service.objects.get(slug="gitlab")
    incident = Incident.objects.create(
        category=gitlab.category, service=gitlab, title="GitLab is down", cause="gitlab"
    )
    CatalogRevision.bump()  # as any write before it: the page is cached without the update
    assert "Disk full" not in english(bob_client).get(DEVOPS).text
    incident_post_update(incident=incident, state="identified", text="Disk full", by=alice)
    assert "Disk full" in bob_client.get(DEVOPS).text


def test_a_catalog_edit_shows_on_the_next_view(catalog, bob_client):
    bob_client.get(DEVOPS)
    Service.objects.filter(slug="jenkins").update(summary="Declarative pipelines")
    CatalogRevision.bump()
    assert "Declarative pipelines" in bob_client.get(DEVOPS).text


def test_staleness_is_decided_on_every_view_not_cached(catalog, bob_client, settings):
    """Beat falling silent moves no writer: the cached state still turns stale in time."""
    make_checks(Service.objects.get(slug="gitlab").category)
    make_finished_scan(at=timezone.now() - timedelta(minutes=2))
    settings.HEALTH_SCAN_INTERVAL = 60  # stale after three minutes
    assert "System Optimal" in english(bob_client).get(DEVOPS).text
    assert cache.get(PAGE_STATE_KEY) is not None
    settings.HEALTH_SCAN_INTERVAL = 30  # stale after a minute and a half: it is now
    page = bob_client.get(DEVOPS).text
    assert 'data-scan-status="stale"' in page
    assert "the statuses below are the last known ones (System Optimal)" in page


def test_a_writer_forgets_the_state_again_when_it_commits(
    catalog, django_capture_on_commit_callbacks
):
    """A reader between a write and its commit caches the old state; the commit forgets it."""
    old = page_state()
    with django_capture_on_commit_callbacks(execute=True):
        CatalogRevision.bump()
        cache.set(PAGE_STATE_KEY, (old.revision, None, None, old.limits))  # a stale read
        assert page_state().revision == old.revision
    assert cache.get(PAGE_STATE_KEY) is None
    assert page_state().revision.number == old.revision.number + 1


@pytest.mark.parametrize("writer", ["scan", "incident", "catalog"])
def test_each_writer_forgets_the_state_on_commit(
    catalog, writer, alice, http_server, django_capture_on_commit_callbacks
):
    page_state()
    with django_capture_on_commit_callbacks() as callbacks:
        if writer == "scan":
            HealthCheck.objects.create(
                slug="gitlab-ok",
                service=Service.objects.get(slug="gitlab"),
                target=http_server.url("/ok"),
            )
            callbacks.clear()  # the check's own catalog write
            scan_run()
        elif writer == "incident":
            gitlab = Service.objects.get(slug="gitlab")
            incident = Incident.objects.create(
                category=gitlab.category, service=gitlab, title="GitLab", cause="gitlab"
            )
            incident_post_update(incident=incident, state="monitoring", text="Fixed", by=alice)
        else:
            CatalogRevision.bump()
    page_state()  # cached again
    for callback in callbacks:
        callback()
    assert cache.get(PAGE_STATE_KEY) is None
