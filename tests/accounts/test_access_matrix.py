"""Who sees what: every portal page and API URL for every kind of visitor.

Only approved members get data; pending, rejected and suspended members get a page (or a
JSON 403) that says why, and nothing from the catalog.
"""

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import client_for

PAGES = ["/", "/categories/devops/"]
API = ["/api/categories/", "/api/categories/devops/"]
ADMIN = ["/admin/", "/admin/accounts/pendingmember/"]

# Text from the catalog that must never reach someone who is not let in.
# (The URL itself appears in the language switch, so the slug is not on this list.)
CATALOG_TEXT = ["DevOps Guide", "GitLab", "Jenkins", "Source control"]

STATE_PAGE = {
    "carol": "membership-pending",
    "dave": "membership-rejected",
    "erin": "membership-suspended",
}


@pytest.fixture
def visitor(request, catalog, carol, dave, erin, bob, sam):
    people = {"carol": carol, "dave": dave, "erin": erin, "bob": bob, "sam": sam}
    if request.param == "anonymous":
        return "anonymous", Client()
    return request.param, client_for(people[request.param])


def no_catalog_data(body: str) -> bool:
    return not any(text in body for text in CATALOG_TEXT)


@pytest.mark.parametrize("visitor", ["anonymous"], indirect=True)
@pytest.mark.parametrize("url", PAGES + API + ADMIN)
def test_anonymous_visitors_get_nothing(visitor, url):
    _, client = visitor
    response = client.get(url)
    if url.startswith("/api/"):
        assert response.status_code == 401
        assert response.json() == {"error": "authentication required"}
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(("/accounts/login/", "/admin/login/"))
    assert no_catalog_data(response.content.decode())


@pytest.mark.parametrize("visitor", ["carol", "dave", "erin"], indirect=True)
@pytest.mark.parametrize("url", PAGES)
def test_members_not_approved_see_a_page_that_says_why(visitor, url):
    name, client = visitor
    response = client.get(url)
    assert response.status_code == 403
    body = response.content.decode()
    assert f'id="{STATE_PAGE[name]}"' in body
    assert no_catalog_data(body)


@pytest.mark.parametrize("visitor", ["carol", "dave", "erin"], indirect=True)
@pytest.mark.parametrize("url", API)
def test_members_not_approved_get_a_json_403(visitor, url):
    name, client = visitor
    response = client.get(url)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "membership not approved"
    assert body["membership"] == {"carol": "pending", "dave": "rejected", "erin": "suspended"}[name]
    assert no_catalog_data(response.content.decode())


@pytest.mark.parametrize("visitor", ["carol", "dave", "erin", "bob"], indirect=True)
@pytest.mark.parametrize("url", ADMIN)
def test_only_staff_reach_the_admin(visitor, url):
    _, client = visitor
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("visitor", ["bob", "sam"], indirect=True)
@pytest.mark.parametrize("url", PAGES + API)
def test_approved_members_and_staff_see_the_catalog(visitor, url):
    _, client = visitor
    response = client.get(url)
    assert response.status_code == 200
    assert "DevOps Guide" in response.content.decode()


@pytest.mark.parametrize("visitor", ["sam"], indirect=True)
@pytest.mark.parametrize("url", ADMIN)
def test_approved_staff_reach_the_admin(visitor, url):
    _, client = visitor
    assert client.get(url).status_code == 200


def test_suspended_staff_are_kept_out_of_the_admin(sam, alice):
    sam.suspend(by=alice)
    response = client_for(sam).get("/admin/")
    assert response.status_code == 302


def test_waiting_page_says_when_they_signed_up_and_whom_to_ask(catalog, carol, settings):
    settings.MEMBER_APPROVAL_CONTACT = "platform-team@example.com"
    body = client_for(carol).get("/").content.decode()
    assert "platform-team@example.com" in body
    assert timezone.localtime(carol.date_joined).strftime("%Y-%m-%d") in body


def test_rejected_page_gives_the_reason(catalog, dave):
    assert "not on the team" in client_for(dave).get("/").content.decode()


def test_membership_check_costs_no_query(catalog, carol, django_assert_num_queries):
    client = client_for(carol)
    # 1. the signed-in user (with its membership); the session comes from the cache.
    with django_assert_num_queries(1):
        assert client.get("/api/categories/").status_code == 403
