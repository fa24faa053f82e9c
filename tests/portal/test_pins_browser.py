"""Pinning in a real browser, in Korean and English: a member pins two services from a
category page, finds them on the home page in that order, moves one up and unpins one;
with script off, a card's button still pins. Screenshots at desktop and phone widths are
kept (artifacts/screenshots/)."""

import pytest
from django.core.management import call_command
from django.test import Client

from portal.models import Category, HealthCheck, Pin, Service
from tests.browser import (
    ARTIFACTS,
    accessibility_violations,
    chromium,
    sideways_overflow,
    signed_in_context,
)
from tests.factories import make_checks, make_finished_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "ko-KR": {"pin": "고정", "unpin": "고정 해제", "pinned": "고정한 도구", "down": "중단"},
    "en-US": {"pin": "Pin", "unpin": "Unpin", "pinned": "Pinned", "down": "down"},
}


@pytest.fixture
def member_session(live_server, django_user_model):
    """The seed catalog, checked, with Jenkins down; bob is an approved member."""
    call_command("loaddata", "catalog", verbosity=0)
    for category in Category.objects.all():
        make_checks(category)
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down")
    make_finished_scan()
    bob = django_user_model.objects.create_user(username="bob", membership="approved")
    client = Client()
    client.force_login(bob)
    return bob, client


def pinned_names(page) -> list[str]:
    return page.locator("#pinned .pinned-name").all_inner_texts()


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_a_member_pins_orders_and_unpins_tools(live_server, member_session, locale):
    bob, session = member_session
    words = WORDS[locale]
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, session, locale=locale, timezone_id="Asia/Seoul"
        )
        page = context.new_page()
        refused = []
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        assert page.goto(f"{live_server.url}/categories/devops/").ok

        # Every card pins; pinning one brings the reader back to it, marked as pinned.
        gitlab, jenkins = page.locator("#pin-gitlab"), page.locator("#pin-jenkins")
        assert gitlab.locator(".pin-label").inner_text() == words["pin"]
        gitlab.locator("button").click()
        page.wait_for_url("**/categories/devops/#pin-gitlab")
        assert gitlab.locator(".pin-label").inner_text() == words["unpin"]
        assert "is-pinned" in gitlab.get_attribute("class")
        jenkins.locator("button").click()
        page.wait_for_url("**/categories/devops/#pin-jenkins")
        assert jenkins.locator(".pin-label").inner_text() == words["unpin"]
        card = page.locator(".service-card").filter(has=gitlab)
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            assert sideways_overflow(page) <= 0
            card.screenshot(path=ARTIFACTS / f"pins-card-{width}-{locale}.png")

        # On the home page, first, in the order pinned, with their health.
        page.set_viewport_size({"width": 1440, "height": 900})
        assert page.goto(f"{live_server.url}/").ok
        assert page.locator("#pinned-title").inner_text() == words["pinned"]
        assert pinned_names(page) == ["GitLab", "Jenkins"]
        jenkins_row = page.locator(".pinned-item[data-pinned=jenkins]")
        assert words["down"] in jenkins_row.locator(".pinned-health").inner_text()

        # Jenkins up; then GitLab unpinned (the form works the same after a move).
        jenkins_row.locator("button[name=before]").click()
        page.wait_for_url("**/#pinned")
        assert pinned_names(page) == ["Jenkins", "GitLab"]
        page.screenshot(path=ARTIFACTS / f"pins-home-1440-{locale}.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        assert sideways_overflow(page) <= 0
        page.locator("#pinned").screenshot(path=ARTIFACTS / f"pins-home-390-{locale}.png")
        page.locator(".pinned-item[data-pinned=gitlab] .pin-unpin").click()
        page.wait_for_url("**/#pinned")
        assert pinned_names(page) == ["Jenkins"]

        # Back on the category page, GitLab pins again; Jenkins offers to unpin.
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        assert gitlab.locator(".pin-label").inner_text() == words["pin"]
        assert jenkins.locator(".pin-label").inner_text() == words["unpin"]
        assert refused == []
    # (The database is read once the browser is closed: Playwright runs an event loop.)
    assert Pin.objects.slugs_of(bob) == ["jenkins"]


GONE_WORDS = {
    "ko-KR": (
        "고정한 도구 2개가 더 이상 카탈로그에 없습니다: jenkins, gitlab-runner.",
        "이 고정 모두 해제",
    ),
    "en-US": (
        "You pinned 2 tools that are no longer in the catalog: jenkins, gitlab-runner.",
        "Remove these pins",
    ),
}


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_a_member_removes_the_pins_of_tools_gone_from_the_catalog(
    live_server, member_session, locale
):
    bob, session = member_session
    for slug in ("gitlab", "jenkins", "gitlab-runner"):
        Pin.objects.pin(user=bob, slug=slug)
    Service.objects.filter(slug__in=["jenkins", "gitlab-runner"]).delete()
    said, button = GONE_WORDS[locale]
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, session, locale=locale, timezone_id="Asia/Seoul"
        )
        page = context.new_page()
        assert page.goto(f"{live_server.url}/").ok
        assert pinned_names(page) == ["GitLab"]
        gone = page.locator("#pinned .pinned-gone")
        assert gone.locator("p").inner_text().startswith(said)
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            assert sideways_overflow(page) <= 0
            assert accessibility_violations(page) == []
            page.locator("#pinned").screenshot(path=ARTIFACTS / f"pins-gone-{width}-{locale}.png")
        gone.get_by_role("button", name=button).click()
        page.wait_for_url("**/#pinned")
        assert page.locator("#pinned .pinned-gone").count() == 0
        assert pinned_names(page) == ["GitLab"]
    assert Pin.objects.slugs_of(bob) == ["gitlab"]


def test_a_pin_button_pins_without_script(live_server, member_session):
    # The buttons post the page's one form (#page-post, outside the cached part, with the
    # reader's CSRF token) through their own formaction: plain HTML, no script needed.
    bob, session = member_session
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, session, locale="en-US", java_script_enabled=False
        )
        page = context.new_page()
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        page.locator("#pin-jenkins button").click()
        page.wait_for_url("**/categories/devops/#pin-jenkins")
        assert "Jenkins is pinned to your home page." in page.content()
    assert Pin.objects.slugs_of(bob) == ["jenkins"]
