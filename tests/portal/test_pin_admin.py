"""Pins in the Admin UI: staff see every member's pinned tools, in their order and whether
each is still in the catalog; nobody adds, changes or removes one there."""

import re

import pytest

from portal.models import Pin, Service
from tests.factories import client_for, make_category

CHANGELIST = "/admin/portal/pin/"


def rows(html: str) -> list[tuple[str, str, str, str]]:
    """(member, position, service slug, in the catalog) of each listed pin."""
    found = re.findall(
        r'<tr>.*?<a href="/admin/portal/pin/\d+/change/[^"]*">([^<]+)</a>.*?'
        r'class="field-position">(\d+)<.*?class="field-service_slug">([^<]+)<.*?'
        r'class="field-in_catalog"><img [^>]*alt="(True|False)"',
        html,
        re.S,
    )
    return found


def test_staff_who_are_not_superusers_see_each_members_pins_in_order(catalog, bob, sam):
    for slug in ("jenkins", "gitlab", "flower"):
        Pin.objects.pin(user=bob, slug=slug)
    Pin.objects.pin(user=sam, slug="keycloak")
    Service.objects.filter(slug="flower").delete()
    page = client_for(sam).get(CHANGELIST).text
    assert rows(page) == [
        ("bob", "0", "jenkins", "True"),
        ("bob", "1", "gitlab", "True"),
        ("bob", "2", "flower", "False"),
        ("sam", "0", "keycloak", "True"),
    ]
    found = client_for(sam).get(CHANGELIST, {"q": "flower"}).text
    assert [row[2] for row in rows(found)] == ["flower"]


def test_nobody_changes_or_removes_a_pin_in_the_admin(catalog, bob, sam, alice):
    pin = Pin.objects.create(user=bob, service_slug="gitlab")
    for admin in (sam, alice):
        client = client_for(admin)
        page = client.get(f"/admin/portal/pin/{pin.pk}/change/").text
        assert "gitlab" in page and 'name="service_slug"' not in page  # read-only
        assert client.get(CHANGELIST).text.count('name="action"') == 0  # no bulk delete
        assert (
            client.post(f"/admin/portal/pin/{pin.pk}/delete/", {"post": "yes"}).status_code == 403
        )
        assert (
            client.post(f"/admin/portal/pin/{pin.pk}/change/", {"position": 7}).status_code == 403
        )
        assert client.post("/admin/portal/pin/add/", {}).status_code == 403
    pin.refresh_from_db()
    assert (pin.user, pin.service_slug, pin.position) == (bob, "gitlab", 0)


# Listing pins, whatever their number:
# 1. the signed-in user (the session comes from the cache),
# 2. and 3. sam's permissions: his own, and his group's,
# 4. the count of the (filtered) rows (no second, unfiltered count: show_full_result_count),
# 5. the page of pins joined with their members, each knowing if its service exists.
LIST_QUERIES = 5


@pytest.mark.parametrize("count", [3, 40])
def test_the_list_costs_the_same_queries_for_any_number(
    db, bob, sam, count, django_assert_num_queries
):
    make_category("tool", services=count)
    for n in range(count):
        Pin.objects.pin(user=bob, slug=f"tool-service-{n}")
    client = client_for(sam)
    client.get(CHANGELIST)  # warm the session cache
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(CHANGELIST)
    assert len(rows(response.text)) == count
