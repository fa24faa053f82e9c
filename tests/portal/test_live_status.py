"""Live status: an open page asks whether the page state moved since it was drawn; an
unchanged state is an empty 204 costing the signed-in user alone, a moved one answers the
new state and the health the page swaps in, as the reader may see it."""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from portal.cards import NO_FIGURE
from portal.models import CatalogRevision, Category, HealthCheck, Service
from portal.pages import page_state
from tests.factories import client_for, make_checks, make_finished_scan

DEVOPS = "/categories/devops/"
LIVE_DEVOPS = "/live/categories/devops/"
LIVE_HOME = "/live/"


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def scanned(catalog):
    """Every item of DevOps checked and up, and a scan that saw it."""
    make_checks(Category.objects.get(slug="devops"))
    make_finished_scan()


def live_root(html: str) -> dict[str, str]:
    tag = re.search(r'<div id="live-status"[^>]*>', html).group(0)
    return dict(re.findall(r'data-live-(\w+)="([^"]*)"', tag))


def jenkins_goes_down() -> None:
    HealthCheck.objects.filter(service__slug="jenkins").update(
        status="down", latency_ms=None, uptime_24h=97.25, detail="connection refused"
    )
    make_finished_scan()


@pytest.mark.parametrize(("page", "live"), [("/", LIVE_HOME), (DEVOPS, LIVE_DEVOPS)])
def test_a_page_names_its_state_where_to_ask_and_how_often(
    scanned, bob_client, settings, page, live
):
    settings.LIVE_STATUS_SECONDS = 25
    html = bob_client.get(page).text
    assert live_root(html) == {"url": live, "state": page_state().cache_key, "seconds": "25"}
    assert re.search(r'<script src="/static/aixops/live\.js" defer></script>', html)


def test_an_unchanged_state_is_a_204_for_the_signed_in_user_alone(
    scanned, bob_client, django_assert_num_queries
):
    state = live_root(bob_client.get(DEVOPS).text)["state"]
    # 1. the signed-in user; the page state comes from the cache.
    with django_assert_num_queries(1):
        response = bob_client.get(LIVE_DEVOPS, {"state": state})
    assert response.status_code == 204
    assert response.content == b""
    assert "no-store" in response["Cache-Control"]


def test_a_scan_answers_the_new_state_and_the_health_to_swap(scanned, bob_client):
    state = live_root(english(bob_client).get(DEVOPS).text)["state"]
    jenkins_goes_down()
    response = bob_client.get(LIVE_DEVOPS, {"state": state})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["state"] == page_state().cache_key != state
    health = answer["health"]
    assert health["header"]["status"] == "major_outage"
    assert health["header"]["label"] == "Major Outage"
    assert re.fullmatch(r"\d{1,2}:\d\d:\d\d [AP]M", health["header"]["time"])
    assert health["items"]["service:devops/jenkins"] == {
        "status": "down",
        "label": "down",
        "detail": "connection refused",
        "latency": NO_FIGURE,
        "uptime_24h": "97.3%",
        "uptime_7d": "99.9%",
    }
    assert health["items"]["store:devops/gitlab-postgresql"]["status"] == "up"
    jenkins = Service.objects.get(slug="jenkins")
    assert health["map"][f"service-{jenkins.pk}"] == {"status": "down", "label": "down"}
    # The page drawn now carries the new state: nothing more to swap.
    assert bob_client.get(LIVE_DEVOPS, {"state": answer["state"]}).status_code == 204


def test_the_answer_is_in_the_readers_language(scanned, bob_client):
    jenkins_goes_down()
    health = bob_client.get(LIVE_DEVOPS, {"state": "old"}).json()["health"]
    assert health["items"]["service:devops/jenkins"]["label"] == "중단"
    assert "오" in health["header"]["time"]  # 오전 or 오후


def test_the_home_page_gets_each_categorys_status(scanned, bob_client):
    state = live_root(english(bob_client).get("/").text)["state"]
    jenkins_goes_down()
    categories = bob_client.get(LIVE_HOME, {"state": state}).json()["health"]["categories"]
    assert categories["category:devops"] == {
        "status": "major_outage",
        "label": "Major Outage",
        "coverage": "",
    }
    assert set(categories) == {f"category:{c.slug}" for c in Category.objects.all()}


def test_a_page_missing_or_mangling_its_state_gets_the_health(scanned, bob_client):
    assert bob_client.get(LIVE_DEVOPS).status_code == 200
    assert bob_client.get(LIVE_DEVOPS, {"state": "x" * 5000}).json()["state"] == (
        page_state().cache_key
    )


def test_members_get_only_what_they_may_see(scanned, bob_client, sam, django_user_model):
    Service.objects.filter(slug="flower").update(hidden=True)
    workspaces = Category.objects.get(slug="workspaces")
    workspaces.visible_to_groups = ["/platform/data"]
    workspaces.save()
    members = bob_client.get(LIVE_DEVOPS).json()["health"]
    staff = client_for(sam).get(LIVE_DEVOPS).json()["health"]
    flower = Service.objects.get(slug="flower")
    assert "service:devops/flower" not in members["items"]
    assert f"service-{flower.pk}" not in members["map"]
    assert staff["items"]["service:devops/flower"]["status"] == "up"
    assert f"service-{flower.pk}" in staff["map"]
    # A category they may not see does not exist for them, here as on its page.
    assert bob_client.get("/live/categories/workspaces/").status_code == 404
    assert "category:workspaces" not in bob_client.get(LIVE_HOME).json()["health"]["categories"]
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    dana.groups.add(Group.objects.create(name="/platform/data"))
    assert client_for(dana).get("/live/categories/workspaces/").status_code == 200


def test_readers_alike_share_one_cached_answer(
    scanned, bob_client, django_user_model, django_assert_num_queries
):
    CatalogRevision.bump()
    bob_client.get(LIVE_DEVOPS)
    oscar = django_user_model.objects.create_user(username="oscar", membership="approved")
    client = client_for(oscar)
    # The signed-in user: the answer was cached for bob's language and kind of reader.
    with django_assert_num_queries(1):
        assert client.get(LIVE_DEVOPS).status_code == 200
