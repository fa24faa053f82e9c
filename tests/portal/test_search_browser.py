"""Quick launch in a real browser, in Korean and English: `/` focuses the top bar's search,
results list as one types, the arrows move through them, Enter opens the highlighted
service's tool, Escape closes the list. The tools are loopback servers; the browser may
reach nothing else. Screenshots are kept (artifacts/screenshots/)."""

from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from portal.models import Service
from tests.browser import ARTIFACTS, chromium, sideways_overflow, signed_in_context
from tests.factories import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOOPBACK = {"127.0.0.1", "localhost"}

# What the reader types, in each language, the results it lists first, and the kind
# label in that language.
SEARCHES = {
    "en-US": ("gitl", ["GitLab", "GitLab Runner"], "Service"),
    "ko-KR": ("파이프라인", ["Jenkins", "DevOps"], "서비스"),
}


@pytest.fixture
def tools(http_server):
    """The seed catalog with GitLab and Jenkins at loopback addresses of their own."""
    call_command("loaddata", "catalog", verbosity=0)
    addresses = {
        "gitlab": http_server.url("/ok?tool=gitlab"),
        "jenkins": http_server.url("/ok?tool=jenkins"),
    }
    for slug, address in addresses.items():
        Service.objects.get(slug=slug).relocate(address)
    return addresses


def loopback_only(route):
    if urlsplit(route.request.url).hostname in LOOPBACK:
        route.continue_()
    else:
        route.abort()


def option_names(listbox) -> list[str]:
    return listbox.locator("[role=option] .search-option-name").all_inner_texts()


@pytest.mark.parametrize("locale", list(SEARCHES))
def test_typing_arrows_and_enter_open_the_tool(live_server, tools, bob, locale):
    query, first_results, service_label = SEARCHES[locale]
    client = client_for(bob)
    with chromium() as browser:
        context = signed_in_context(browser, live_server, client, locale=locale)
        context.route("**/*", loopback_only)
        page = context.new_page()
        assert page.goto(f"{live_server.url}/").ok
        box = page.locator("#site-search")
        listbox = page.locator("#site-search-results")

        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "site-search"
        page.keyboard.type(query)
        listbox.locator("[role=option]").first.wait_for()
        assert box.get_attribute("aria-expanded") == "true"
        assert option_names(listbox)[:2] == first_results
        assert listbox.locator(".search-option-kind").first.inner_text() == service_label
        page.screenshot(path=ARTIFACTS / f"search-{locale}.png")

        # Down twice, up once: the first result, highlighted and named to assistive tech.
        for key in ["ArrowDown", "ArrowDown", "ArrowUp"]:
            page.keyboard.press(key)
        first = listbox.locator("[role=option]").first
        assert first.get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")

        # Escape closes the list and leaves the query; the arrows bring it back.
        page.keyboard.press("Escape")
        assert listbox.is_hidden() and box.get_attribute("aria-expanded") == "false"
        assert box.input_value() == query
        page.keyboard.press("ArrowDown")
        assert listbox.is_visible()

        with page.expect_navigation():
            page.keyboard.press("Enter")
        opened = "gitlab" if first_results[0] == "GitLab" else "jenkins"
        assert page.url == tools[opened]
        context.close()


@pytest.mark.parametrize("locale", list(SEARCHES))
def test_the_results_page_works_without_scripts(live_server, tools, bob, locale):
    query, first_results, _ = SEARCHES[locale]
    client = client_for(bob)
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, client, locale=locale, java_script_enabled=False
        )
        context.route("**/*", loopback_only)
        page = context.new_page()
        assert page.goto(f"{live_server.url}/").ok
        page.fill("#site-search", query)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert urlsplit(page.url).path == "/search/"
        names = page.locator(".search-result-name").all_inner_texts()
        assert names[:2] == first_results
        page.screenshot(path=ARTIFACTS / f"search-page-{locale}.png", full_page=True)
        context.close()


def test_on_a_phone_the_search_is_in_the_menu_and_fits(live_server, tools, bob):
    client = client_for(bob)
    with chromium() as browser:
        context = signed_in_context(
            browser,
            live_server,
            client,
            locale="en-US",
            viewport={"width": 390, "height": 844},
        )
        context.route("**/*", loopback_only)
        page = context.new_page()
        assert page.goto(f"{live_server.url}/").ok
        box = page.locator("#site-search")
        assert box.is_hidden()  # folded behind the menu button
        page.keyboard.press("/")  # a phone with a keyboard: the menu opens
        assert box.is_visible()
        page.keyboard.type("jenk")
        page.locator("#site-search-results [role=option]").first.wait_for()
        assert sideways_overflow(page) <= 0
        page.screenshot(path=ARTIFACTS / "search-phone-390.png")
        context.close()


def test_a_query_that_matches_nothing_says_so(live_server, tools, bob):
    client = client_for(bob)
    with chromium() as browser:
        context = signed_in_context(browser, live_server, client, locale="en-US")
        context.route("**/*", loopback_only)
        page = context.new_page()
        assert page.goto(f"{live_server.url}/").ok
        page.keyboard.press("/")
        page.keyboard.type("no-such/tool")  # a `/` typed in the box is text
        assert page.locator("#site-search").input_value() == "no-such/tool"
        none = page.locator("#site-search-results .search-option-none")
        none.wait_for()
        assert none.inner_text() == "Nothing matches."
        assert page.locator("#site-search-status").inner_text() == "Results: 0"
        page.keyboard.press("ArrowDown")  # nothing to highlight: Enter searches the page
        assert page.locator("#site-search").get_attribute("aria-activedescendant") is None
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{live_server.url}/search/?q=no-such%2Ftool"
        context.close()
