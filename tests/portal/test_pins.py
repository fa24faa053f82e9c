"""Pinned tools: a member pins services to the top of their home page, in their own order,
kept by slug across catalog edits, shown only while they may see them."""

import re
from io import StringIO

import pytest
import yaml
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import translation

from portal.models import PINS_PER_MEMBER, CatalogRevision, Category, HealthCheck, Pin, Service
from tests.factories import client_for, make_category, make_checks, make_finished_scan

# --- the model: one place of truth, safe to run twice -----------------------------------


def test_pins_append_in_the_order_they_are_made(catalog, bob):
    assert Pin.objects.pin(user=bob, slug="jenkins") is True
    assert Pin.objects.pin(user=bob, slug="gitlab") is True
    assert Pin.objects.pin(user=bob, slug="flower") is True
    assert Pin.objects.slugs_of(bob) == ["jenkins", "gitlab", "flower"]


def test_pinning_twice_keeps_one_pin_in_its_place(catalog, bob):
    Pin.objects.pin(user=bob, slug="jenkins")
    Pin.objects.pin(user=bob, slug="gitlab")
    assert Pin.objects.pin(user=bob, slug="jenkins") is False
    assert Pin.objects.slugs_of(bob) == ["jenkins", "gitlab"]
    assert Pin.objects.count() == 2


def test_unpinning_twice_is_harmless_and_keeps_the_others_order(catalog, bob):
    for slug in ("jenkins", "gitlab", "flower"):
        Pin.objects.pin(user=bob, slug=slug)
    assert Pin.objects.unpin(user=bob, slug="gitlab") is True
    assert Pin.objects.unpin(user=bob, slug="gitlab") is False
    assert Pin.objects.slugs_of(bob) == ["jenkins", "flower"]
    # A pin made after an unpin still goes last.
    Pin.objects.pin(user=bob, slug="gitlab")
    assert Pin.objects.slugs_of(bob) == ["jenkins", "flower", "gitlab"]


def test_a_move_puts_a_pin_next_to_another_and_asked_again_changes_nothing(catalog, bob):
    for slug in ("jenkins", "gitlab", "flower", "admin-ui"):
        Pin.objects.pin(user=bob, slug=slug)
    assert Pin.objects.move(user=bob, slug="flower", before="gitlab") is True
    assert Pin.objects.slugs_of(bob) == ["jenkins", "flower", "gitlab", "admin-ui"]
    assert Pin.objects.move(user=bob, slug="flower", before="gitlab") is False
    assert Pin.objects.move(user=bob, slug="jenkins", after="admin-ui") is True
    assert Pin.objects.move(user=bob, slug="jenkins", after="admin-ui") is False
    assert Pin.objects.slugs_of(bob) == ["flower", "gitlab", "admin-ui", "jenkins"]
    # Positions are renumbered from 0, without gaps.
    assert list(Pin.objects.of(bob).values_list("position", flat=True)) == [0, 1, 2, 3]


def test_a_move_to_or_of_a_service_not_pinned_changes_nothing(catalog, bob):
    Pin.objects.pin(user=bob, slug="jenkins")
    Pin.objects.pin(user=bob, slug="gitlab")
    assert Pin.objects.move(user=bob, slug="jenkins", after="flower") is False
    assert Pin.objects.move(user=bob, slug="flower", before="jenkins") is False
    assert Pin.objects.move(user=bob, slug="jenkins", before="jenkins") is False
    assert Pin.objects.move(user=bob, slug="jenkins") is False
    assert Pin.objects.slugs_of(bob) == ["jenkins", "gitlab"]


def test_each_member_has_their_own_pins_and_order(catalog, bob, sam):
    Pin.objects.pin(user=bob, slug="jenkins")
    Pin.objects.pin(user=bob, slug="gitlab")
    Pin.objects.pin(user=sam, slug="gitlab")
    Pin.objects.move(user=bob, slug="gitlab", before="jenkins")
    Pin.objects.unpin(user=sam, slug="jenkins")
    assert Pin.objects.slugs_of(bob) == ["gitlab", "jenkins"]
    assert Pin.objects.slugs_of(sam) == ["gitlab"]


# A member's slugs are cached (every category page reads them): each change shows at once,
# inside its transaction, and after its commit without a query.


def test_a_members_slugs_are_read_once_then_from_the_cache(catalog, bob, django_assert_num_queries):
    Pin.objects.pin(user=bob, slug="jenkins")
    with django_assert_num_queries(1):
        assert Pin.objects.slugs_of(bob) == ["jenkins"]
    with django_assert_num_queries(0):
        assert Pin.objects.slugs_of(bob) == ["jenkins"]


def test_each_change_shows_at_once_and_is_cached_when_it_commits(
    catalog, bob, committed, django_assert_num_queries
):
    assert Pin.objects.slugs_of(bob) == []
    with committed():
        Pin.objects.pin(user=bob, slug="jenkins")
        Pin.objects.pin(user=bob, slug="gitlab")
        assert Pin.objects.slugs_of(bob) == ["jenkins", "gitlab"]
    with django_assert_num_queries(0):
        assert Pin.objects.slugs_of(bob) == ["jenkins", "gitlab"]
    with committed():
        Pin.objects.move(user=bob, slug="gitlab", before="jenkins")
    with django_assert_num_queries(0):
        assert Pin.objects.slugs_of(bob) == ["gitlab", "jenkins"]
    with committed():
        Pin.objects.unpin(user=bob, slug="gitlab")
    with django_assert_num_queries(0):
        assert Pin.objects.slugs_of(bob) == ["jenkins"]


def test_a_change_rolled_back_leaves_the_slugs_as_they_were(catalog, bob):
    Pin.objects.pin(user=bob, slug="jenkins")
    assert Pin.objects.slugs_of(bob) == ["jenkins"]
    with pytest.raises(RuntimeError), transaction.atomic():
        Pin.objects.pin(user=bob, slug="gitlab")
        raise RuntimeError("the request failed after the pin")
    assert Pin.objects.slugs_of(bob) == ["jenkins"]


def test_slugs_read_before_a_commit_never_replace_the_committed_ones(catalog, bob, committed):
    Pin.objects.pin(user=bob, slug="jenkins")
    with committed():
        Pin.objects.pin(user=bob, slug="gitlab")
    # A reader that loaded the slugs before that commit stores them only if none are
    # cached, as `slugs_of` does (cache.add).
    assert cache.add(f"portal:pinned-slugs:{bob.pk}", ["jenkins"]) is False
    assert Pin.objects.slugs_of(bob) == ["jenkins", "gitlab"]


def test_pins_are_bounded_and_one_too_many_changes_nothing(db, bob):
    make_category("tool", services=PINS_PER_MEMBER + 1)
    for n in range(PINS_PER_MEMBER):
        Pin.objects.pin(user=bob, slug=f"tool-service-{n}")
    with pytest.raises(ValidationError) as refused:
        Pin.objects.pin(user=bob, slug="tool-service-50")
    with translation.override("en"):
        assert refused.value.messages == [
            f"You can pin at most {PINS_PER_MEMBER} services: unpin one first."
        ]
    assert Pin.objects.filter(user=bob).count() == PINS_PER_MEMBER
    # Pinning one already pinned is still fine.
    assert Pin.objects.pin(user=bob, slug="tool-service-0") is False


def test_pins_of_services_gone_from_the_catalog_do_not_count_toward_the_bound(db, bob):
    make_category("tool", services=PINS_PER_MEMBER + 1)
    for n in range(PINS_PER_MEMBER):
        Pin.objects.pin(user=bob, slug=f"tool-service-{n}")
    Service.objects.filter(slug__in=["tool-service-3", "tool-service-7"]).delete()
    assert Pin.objects.pin(user=bob, slug="tool-service-50") is True
    assert Pin.objects.filter(user=bob).count() == PINS_PER_MEMBER + 1
    # 49 in the catalog: one more fits, the next does not.
    make_category("more", services=2)
    assert Pin.objects.pin(user=bob, slug="more-service-0") is True
    with pytest.raises(ValidationError):
        Pin.objects.pin(user=bob, slug="more-service-1")


def test_unpinning_the_gone_ones_keeps_the_rest_and_is_harmless_twice(catalog, bob, sam):
    for slug in ("gitlab", "jenkins", "flower"):
        Pin.objects.pin(user=bob, slug=slug)
        Pin.objects.pin(user=sam, slug=slug)
    Service.objects.filter(slug__in=["jenkins", "flower"]).update(hidden=True)
    Service.objects.filter(slug="jenkins").delete()
    assert Pin.objects.slugs_of(bob) == ["gitlab", "jenkins", "flower"]  # now cached
    assert Pin.objects.unpin_gone(user=bob) == 1
    assert Pin.objects.unpin_gone(user=bob) == 0
    # A hidden service is still in the catalog; another member's pins are theirs.
    assert Pin.objects.slugs_of(bob) == ["gitlab", "flower"]
    assert Pin.objects.slugs_of(sam) == ["gitlab", "jenkins", "flower"]


# --- the home page ----------------------------------------------------------------------


def pinned_section(html: str) -> str:
    found = re.search(r'<section class="panel pinned".*?</section>', html, re.S)
    return found.group(0) if found else ""


def pinned_names(html: str) -> list[str]:
    return re.findall(r'class="pinned-name" href="[^"]*">([^<]+)</a>', pinned_section(html))


def gone_line(html: str) -> str:
    """What the pinned section says of pins whose services left the catalog."""
    found = re.search(r'<form class="pinned-gone".*?<p>(.*?)</p>', pinned_section(html), re.S)
    return found.group(1) if found else ""


@pytest.fixture
def scanned_catalog(catalog):
    """The seed catalog, every item checked (up), Jenkins down, after a finished scan."""
    for category in Category.objects.all():
        make_checks(category)
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down")
    make_finished_scan()


def test_the_home_page_shows_pins_first_in_the_members_order(scanned_catalog, bob, bob_client):
    assert pinned_section(bob_client.get("/").text) == ""  # no pins, no section
    for slug in ("jenkins", "keycloak", "gitlab"):
        Pin.objects.pin(user=bob, slug=slug)
    page = bob_client.get("/").text
    section = pinned_section(page)
    assert pinned_names(page) == ["Jenkins", "Keycloak", "GitLab"]
    # Between the page's heading and the categories.
    assert page.index("<h1>") < page.index(section) < page.index('class="card category-card"')
    # Each links to the tool, names its category, and says its health from the last scan.
    assert '<a class="pinned-name" href="/jenkins">Jenkins</a>' in section
    assert '<a class="pinned-category" href="/categories/identity-access/">' in section
    statuses = re.findall(r'pinned-health health-(\w+)" data-service-health="([-\w]+)"', section)
    assert statuses == [("down", "jenkins"), ("up", "keycloak"), ("up", "gitlab")]


def test_a_pin_without_a_tool_url_links_its_category(scanned_catalog, bob, bob_client):
    Pin.objects.pin(user=bob, slug="gitlab-runner")  # no location of its own
    section = pinned_section(bob_client.get("/").text)
    assert '<a class="pinned-name" href="/categories/devops/">GitLab Runner</a>' in section


def test_each_pin_has_its_moves_and_an_unpin(catalog, bob, bob_client):
    for slug in ("jenkins", "gitlab", "flower"):
        Pin.objects.pin(user=bob, slug=slug)
    section = pinned_section(bob_client.get("/").text)
    items = re.findall(r'<li class="pinned-item" data-pinned="([-\w]+)">(.*?)</li>', section, re.S)
    moves = {
        slug: re.findall(r'name="(before|after)" value="([-\w]+)"', body) for slug, body in items
    }
    assert moves == {
        "jenkins": [("after", "gitlab")],
        "gitlab": [("before", "jenkins"), ("after", "flower")],
        "flower": [("before", "gitlab")],
    }
    unpins = re.findall(r' action="/pins/([-\w]+)/unpin/"', section)
    assert unpins == ["jenkins", "gitlab", "flower"]
    assert section.count('formaction="/pins/gitlab/move/"') == 2


def test_pins_survive_a_catalog_import_that_deletes_and_adds_the_service_again(
    catalog, bob, bob_client, tmp_path
):
    for slug in ("gitlab", "jenkins", "flower"):
        Pin.objects.pin(user=bob, slug=slug)
    whole = tmp_path / "catalog.yaml"
    out = StringIO()
    call_command("catalog", "export", stdout=out)
    whole.write_text(out.getvalue(), encoding="utf-8")
    data = yaml.safe_load(out.getvalue())
    devops = next(c for c in data["categories"] if c["slug"] == "devops")
    devops["services"] = [s for s in devops["services"] if s["slug"] != "jenkins"]
    for store in devops["data_stores"]:
        store["used_by"] = [slug for slug in store["used_by"] if slug != "jenkins"]
    for service in devops["services"]:
        service["talks_to"] = [slug for slug in service.get("talks_to", []) if slug != "jenkins"]
    without = tmp_path / "without-jenkins.yaml"
    without.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")

    call_command("catalog", "import", str(without), "--prune", stdout=StringIO())
    assert not Service.objects.filter(slug="jenkins").exists()
    page = bob_client.get("/").text
    assert pinned_names(page) == ["GitLab", "Flower"]
    assert gone_line(page) == (
        "고정한 도구 1개가 더 이상 카탈로그에 없습니다: jenkins. "
        "카탈로그에 다시 등록되면 여기에 다시 표시됩니다."
    )
    assert Pin.objects.slugs_of(bob) == ["gitlab", "jenkins", "flower"]  # kept

    call_command("catalog", "import", str(whole), stdout=StringIO())
    page = bob_client.get("/").text
    assert pinned_names(page) == ["GitLab", "Jenkins", "Flower"]
    assert gone_line(page) == ""


def test_a_renamed_or_moved_service_stays_pinned(catalog, bob, bob_client):
    Pin.objects.pin(user=bob, slug="jenkins")
    jenkins = Service.objects.get(slug="jenkins")
    jenkins.name = "Jenkins CI"
    jenkins.category = Service.objects.get(slug="keycloak").category
    jenkins.save()
    section = pinned_section(bob_client.get("/").text)
    assert pinned_names(bob_client.get("/").text) == ["Jenkins CI"]
    assert 'href="/categories/identity-access/">Identity' in section


def test_pins_the_reader_may_no_longer_see_are_not_shown(catalog, bob, sam, django_user_model):
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    dana.groups.add(Group.objects.create(name="/platform/devops"))
    for member in (bob, sam, dana):
        for slug in ("gitlab", "flower", "jenkins", "keycloak", "no-such-tool"):
            Pin.objects.pin(user=member, slug=slug)
    Service.objects.filter(slug="flower").update(hidden=True)
    Service.objects.filter(slug="jenkins").update(visible_to_groups=["/platform/devops"])
    Service.objects.filter(slug="keycloak").update(visible_to_groups=["/platform/devops"])
    CatalogRevision.bump()
    # Hidden: staff's only; limited: its group's and staff's; gone: nobody's.
    assert pinned_names(client_for(bob).get("/").text) == ["GitLab"]
    assert pinned_names(client_for(dana).get("/").text) == ["GitLab", "Jenkins", "Keycloak"]
    assert pinned_names(client_for(sam).get("/").text) == [
        "GitLab",
        "Flower",
        "Jenkins",
        "Keycloak",
    ]
    # Not shown, and not named anywhere on the page either.
    page = client_for(bob).get("/").text
    assert "Jenkins" not in pinned_section(page) and "jenkins" not in page
    # A pin of a limited category's service is not shown outside the category's group.
    Service.objects.filter(slug="keycloak").update(visible_to_groups=[])
    Category.objects.filter(slug="identity-access").update(visible_to_groups=["/platform/iam"])
    CatalogRevision.bump()
    assert pinned_names(client_for(bob).get("/").text) == ["GitLab"]
    assert pinned_names(client_for(sam).get("/").text)[-1] == "Keycloak"


# Home page queries warm (its catalog part, the page state and the member's pinned slugs
# cached): 1. the signed-in user, and when they have pins, 2. the pinned services with
# their categories (one query whatever the number) and, when some are shown, 3. their
# checks with the maintenance flag.
HOME_WARM_WITHOUT_PINS = 1
HOME_WARM_WITH_PINS = 3


@pytest.mark.parametrize("pins", [1, 30])
def test_the_home_page_reads_pins_in_two_queries_whatever_their_number(
    scanned_catalog, bob, bob_client, django_user_model, django_assert_num_queries, pins
):
    big = make_category("big", services=pins)
    make_checks(big)
    make_finished_scan()
    for service in Service.objects.filter(category=big):
        Pin.objects.pin(user=bob, slug=service.slug)
    bob_client.get("/")
    with django_assert_num_queries(HOME_WARM_WITH_PINS):
        page = bob_client.get("/").text
    assert len(pinned_names(page)) == pins
    # Gone from the catalog, they are named in the same queries.
    Service.objects.filter(category=big).delete()
    bob_client.get("/")  # the catalog moved: its part is drawn again
    with django_assert_num_queries(HOME_WARM_WITH_PINS - 1):
        assert gone_line(bob_client.get("/").text).startswith(f"고정한 도구 {pins}개가")
    Pin.objects.unpin_gone(user=bob)
    bob_client.get("/")  # the pins changed: their slugs are read again
    with django_assert_num_queries(HOME_WARM_WITHOUT_PINS):
        assert pinned_section(bob_client.get("/").text) == ""


def test_the_api_lists_the_readers_pins_in_order_with_their_health(
    scanned_catalog, bob, bob_client
):
    for slug in ("jenkins", "gitlab-runner", "flower", "no-such-tool"):
        Pin.objects.pin(user=bob, slug=slug)
    Service.objects.filter(slug="flower").update(hidden=True)
    pins = bob_client.get("/api/pins/").json()["pins"]
    assert [(p["slug"], p["category"], p["url"], p["health"]["status"]) for p in pins] == [
        ("jenkins", "devops", "http://testserver/jenkins", "down"),
        ("gitlab-runner", "devops", "http://testserver/categories/devops/", "up"),
    ]


# --- pinning from a category page, and the forms ----------------------------------------


def pin_buttons(html: str) -> dict[str, tuple[str, str]]:
    """The service cards' pin buttons: slug -> (where they post, where they come back).
    Each submits the page's one form (`page-post`), which carries the CSRF token."""
    buttons = re.findall(
        r'<div class="pin-form" id="pin-[-\w]+" data-pin="([-\w]+)" data-unpin-action="[^"]+">'
        r'<button type="submit" form="page-post" formaction="([^"]+)" name="next" value="([^"]+)"',
        html,
    )
    return {slug: (action, back) for slug, action, back in buttons}


def pinned_data(html: str) -> list[str]:
    found = re.search(r'<div id="pinned-services" hidden data-pinned="([-\w ]*)"', html)
    return found.group(1).split()


def test_every_card_has_a_pin_button_and_the_page_lists_the_readers_pins(catalog, bob, bob_client):
    page = bob_client.get("/categories/devops/").text
    assert pin_buttons(page) == {
        slug: (f"/pins/{slug}/pin/", f"/categories/devops/#pin-{slug}")
        for slug in ("admin-ui", "gitlab", "jenkins", "flower", "gitlab-runner")
    }
    assert page.count('<form id="page-post" method="post" hidden>') == 1
    assert pinned_data(page) == []
    assert '<script src="/static/aixops/pins.js" defer></script>' in page
    Pin.objects.pin(user=bob, slug="jenkins")
    Pin.objects.pin(user=bob, slug="keycloak")
    assert pinned_data(bob_client.get("/categories/devops/").text) == ["jenkins", "keycloak"]


def test_pinning_from_a_card_returns_to_it(catalog, bob, bob_client):
    response = bob_client.post(
        "/pins/gitlab/pin/", {"next": "/categories/devops/#pin-gitlab"}, follow=True
    )
    assert response.redirect_chain == [("/categories/devops/#pin-gitlab", 302)]
    assert "GitLab을(를) 홈 화면에 고정했습니다." in response.text  # the portal speaks Korean
    assert Pin.objects.slugs_of(bob) == ["gitlab"]
    again = bob_client.post("/pins/gitlab/pin/", {"next": "/categories/devops/"}, follow=True)
    assert "GitLab은(는) 이미 고정되어 있습니다." in again.text
    assert Pin.objects.slugs_of(bob) == ["gitlab"]


def test_moves_and_unpins_from_the_home_page_return_to_it(catalog, bob, bob_client):
    for slug in ("gitlab", "jenkins", "flower"):
        Pin.objects.pin(user=bob, slug=slug)
    response = bob_client.post("/pins/flower/move/", {"before": "jenkins", "next": "/#pinned"})
    assert (response.status_code, response["Location"]) == (302, "/#pinned")
    assert Pin.objects.slugs_of(bob) == ["gitlab", "flower", "jenkins"]
    bob_client.post("/pins/gitlab/move/", {"after": "flower", "next": "/#pinned"})
    assert Pin.objects.slugs_of(bob) == ["flower", "gitlab", "jenkins"]
    page = bob_client.post("/pins/gitlab/unpin/", {"next": "/#pinned"}, follow=True).text
    assert "GitLab의 고정을 해제했습니다." in page
    assert pinned_names(page) == ["Flower", "Jenkins"]


def test_a_next_address_off_the_portal_is_ignored(catalog, bob_client):
    response = bob_client.post("/pins/gitlab/pin/", {"next": "https://evil.example/"})
    assert response["Location"] == "/categories/devops/"
    response = bob_client.post("/pins/gitlab/unpin/", {"next": "//evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.parametrize("data", [{}, {"before": "gitlab", "after": "jenkins"}])
def test_a_move_must_say_where_to(catalog, bob, bob_client, data):
    Pin.objects.pin(user=bob, slug="gitlab")
    Pin.objects.pin(user=bob, slug="jenkins")
    response = bob_client.post("/pins/jenkins/move/", data)
    assert response.status_code == 400
    assert "고정된 서비스 하나의 앞 또는 뒤" in response.content.decode()
    assert Pin.objects.slugs_of(bob) == ["gitlab", "jenkins"]


def test_one_pin_too_many_says_why_and_changes_nothing(catalog, bob, bob_client):
    make_category("tool", services=PINS_PER_MEMBER)
    Pin.objects.bulk_create(
        Pin(user=bob, service_slug=f"tool-service-{n}", position=n) for n in range(PINS_PER_MEMBER)
    )
    page = bob_client.post("/pins/gitlab/pin/", {"next": "/categories/devops/"}, follow=True).text
    assert f"서비스는 최대 {PINS_PER_MEMBER}개까지 고정할 수 있습니다." in page
    assert "gitlab" not in Pin.objects.slugs_of(bob)


@pytest.mark.parametrize("slug", ["no-such-tool", "flower"])
def test_a_service_the_reader_may_not_see_cannot_be_pinned(catalog, bob, bob_client, slug):
    Service.objects.filter(slug="flower").update(hidden=True)
    CatalogRevision.bump()
    missing = bob_client.post("/pins/no-such-tool/pin/")
    response = bob_client.post(f"/pins/{slug}/pin/")
    # The same answer as for a service that does not exist: it says nothing.
    assert (response.status_code, response.content) == (404, missing.content)
    assert Pin.objects.count() == 0


def test_a_member_removes_the_pins_of_tools_gone_from_the_catalog_from_the_home_page(
    catalog, bob, bob_client
):
    for slug in ("gitlab", "jenkins", "flower", "gitlab-runner"):
        Pin.objects.pin(user=bob, slug=slug)
    Service.objects.filter(slug__in=["jenkins", "gitlab-runner"]).delete()
    page = bob_client.get("/").text
    assert pinned_names(page) == ["GitLab", "Flower"]
    assert gone_line(page) == (
        "고정한 도구 2개가 더 이상 카탈로그에 없습니다: jenkins, gitlab-runner. "
        "카탈로그에 다시 등록되면 여기에 다시 표시됩니다."
    )
    form = re.search(r'<form class="pinned-gone" method="post" action="([^"]+)"', page)
    assert form.group(1) == "/pins/remove-gone/"
    response = bob_client.post(form.group(1), {"next": "/#pinned"}, follow=True)
    assert response.redirect_chain == [("/#pinned", 302)]
    assert "카탈로그에 더 이상 없는 도구의 고정 2개를 해제했습니다." in response.text
    assert gone_line(response.text) == ""
    assert Pin.objects.slugs_of(bob) == ["gitlab", "flower"]
    # Asked again (a second click, another tab): nothing to remove, nothing said.
    again = bob_client.post("/pins/remove-gone/", follow=True)
    assert "해제했습니다" not in again.text
    assert Pin.objects.slugs_of(bob) == ["gitlab", "flower"]


def test_a_pin_of_a_tool_gone_from_the_catalog_is_unpinned_by_its_slug(catalog, bob, bob_client):
    Pin.objects.pin(user=bob, slug="jenkins")
    Service.objects.filter(slug="jenkins").delete()
    response = bob_client.post("/pins/jenkins/unpin/", {"next": "/#pinned"}, follow=True)
    assert response.redirect_chain == [("/#pinned", 302)]
    assert "jenkins의 고정을 해제했습니다." in response.text
    assert Pin.objects.slugs_of(bob) == []
    # Not pinned (any more), and no such service: as for any service that does not exist.
    missing = bob_client.post("/pins/no-such-tool/unpin/")
    assert bob_client.post("/pins/jenkins/unpin/").status_code == 404
    assert (missing.status_code, missing.content) == (
        404,
        bob_client.post("/pins/jenkins/unpin/").content,
    )


def test_unpinning_a_service_the_reader_may_not_see_answers_as_for_none(catalog, bob, bob_client):
    # Pinned while it was shown to them, then hidden: the pin is theirs to remove, and
    # its slug is all the answer names. Not pinned: the 404 of a service that never was.
    Pin.objects.pin(user=bob, slug="flower")
    Service.objects.filter(slug__in=["flower", "gitlab-runner"]).update(hidden=True)
    CatalogRevision.bump()
    page = bob_client.post("/pins/flower/unpin/", follow=True).text
    assert "flower의 고정을 해제했습니다." in page and "Flower" not in pinned_section(page)
    assert Pin.objects.slugs_of(bob) == []
    hidden, missing = (
        bob_client.post("/pins/gitlab-runner/unpin/"),
        bob_client.post("/pins/no-such-tool/unpin/"),
    )
    assert (hidden.status_code, hidden.content) == (404, missing.content)


def test_staff_pin_hidden_services(catalog, sam):
    Service.objects.filter(slug="flower").update(hidden=True)
    CatalogRevision.bump()
    client = client_for(sam)
    assert client.post("/pins/flower/pin/").status_code == 302
    assert pinned_names(client.get("/").text) == ["Flower"]


PIN_URLS = [
    "/pins/gitlab/pin/",
    "/pins/gitlab/unpin/",
    "/pins/gitlab/move/",
    "/pins/remove-gone/",
]


@pytest.mark.parametrize("url", PIN_URLS)
def test_pins_change_only_by_post(catalog, bob_client, url):
    assert bob_client.get(url).status_code == 405


def test_pin_buttons_post_the_pages_form_with_the_readers_csrf_token(catalog, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post("/pins/gitlab/pin/").status_code == 403
    page = client.get("/categories/devops/").text
    # What a browser sends for the button: the page's form, and the button's own name
    # and value, to the button's formaction.
    form = re.search(r'<form id="page-post" method="post" hidden>(.*?)</form>', page).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    action, back = pin_buttons(page)["gitlab"]
    response = client.post(action, {"csrfmiddlewaretoken": token, "next": back})
    assert (response.status_code, response["Location"]) == (302, back)
    assert Pin.objects.slugs_of(bob) == ["gitlab"]
