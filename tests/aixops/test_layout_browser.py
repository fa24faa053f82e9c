"""The pages a member opens most, in a real browser, in Korean and English at a desktop's
and a phone's width: they fit the screen, the top bar stays one row, axe-core finds no
WCAG 2.1 A/AA violation, and their screenshots are kept. The overview's long sections fold,
and the browser remembers how a reader left them."""

import pytest
from django.core.management import call_command

from portal.models import Category, HealthCheck, Incident, Service
from tests.browser import (
    ARTIFACTS,
    accessibility_violations,
    chromium,
    sideways_overflow,
    signed_in_context,
    top_bar_is_one_row,
)
from tests.factories import client_for, make_checks, make_finished_scan
from workspaces.models import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = {
    "home": "/",
    "overview": "/categories/devops/",
    "status": "/status/",
    "workspace": "/accounts/workspace/",
}
WIDTHS = {1440: {"width": 1440, "height": 900}, 390: {"width": 390, "height": 844}}
LOCALES = {"ko": "ko-KR", "en": "en-US"}
MENU = {"ko": "메뉴", "en": "Menu"}
OVERVIEW = PAGES["overview"]


@pytest.fixture
def bob(live_server, django_user_model):
    """A member with an active workspace, on the shipped catalog after a scan that found
    every state a page can show: up, Jenkins slow, GitLab's database down (an incident)."""
    call_command("loaddata", "catalog", verbosity=0)
    for category in Category.objects.all():
        make_checks(category)
    HealthCheck.objects.filter(service__slug="jenkins").update(status="degraded", latency_ms=1840)
    HealthCheck.objects.filter(data_store__slug="gitlab-postgresql").update(status="down")
    make_finished_scan()
    gitlab = Service.objects.get(slug="gitlab")
    Incident.objects.create(
        title="GitLab", category=gitlab.category, service=gitlab, cause="gitlab-postgresql"
    )
    member = django_user_model.objects.create_user(username="bob", membership="approved")
    Workspace.objects.create(
        owner=member, status=Workspace.Status.ACTIVE, location="/srv/bob", usage_bytes=3 * 1024**3
    )
    return client_for(member)


def unfold_everything(page) -> None:
    """Open every folding section, so that the checks see all a reader can unfold."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


@pytest.mark.parametrize("language", LOCALES)
def test_each_page_fits_the_screen_keeps_a_one_row_top_bar_and_passes_axe(
    live_server, bob, language
):
    problems = []
    with chromium() as browser:
        for width, viewport in WIDTHS.items():
            context = signed_in_context(
                browser, live_server, bob, viewport=viewport, locale=LOCALES[language]
            )
            page = context.new_page()
            for name, path in PAGES.items():
                where = f"{name} ({path}) in {language} at {width}px"
                assert page.goto(f"{live_server.url}{path}").ok, where
                assert page.locator("html").get_attribute("lang") == language, where
                page.screenshot(path=ARTIFACTS / f"{name}-{language}-{width}.png", full_page=True)
                if not top_bar_is_one_row(page):
                    problems.append(f"{where}: the top bar wraps into two rows")
                unfold_everything(page)
                if (overflow := sideways_overflow(page)) > 0:
                    problems.append(f"{where}: the page scrolls sideways by {overflow}px")
                problems += [f"{where}: {found}" for found in accessibility_violations(page)]
            if width == 390:  # what the top bar folds behind its menu button, unfolded
                page.goto(f"{live_server.url}/")
                page.get_by_role("button", name=MENU[language]).click()
                page.screenshot(path=ARTIFACTS / f"home-{language}-{width}-menu.png")
                problems += [
                    f"home in {language} at {width}px, menu open: {found}"
                    for found in accessibility_violations(page)
                ]
            context.close()
    assert problems == [], "\n".join(problems)


def test_axe_reports_a_violation_when_there_is_one(live_server, bob):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, bob)
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        page.evaluate("document.querySelector('.brand img').removeAttribute('alt')")
        [violation] = accessibility_violations(page)
        assert violation.startswith("image-alt (critical): img")
        assert violation.endswith(": Images must have alternative text")
        context.close()


def section(page, name):
    """An overview section's fold and its summary (the heading a reader clicks)."""
    fold = page.locator(f'details.fold[data-section="{name}"]')
    return fold, fold.locator("summary")


def is_open(fold) -> bool:
    return fold.get_attribute("open") is not None


def test_a_folded_section_stays_folded_after_a_reload_and_on_other_categories(live_server, bob):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, bob, viewport=WIDTHS[1440])
        page = context.new_page()
        page.goto(f"{live_server.url}{OVERVIEW}")
        stores, stores_heading = section(page, "stores")
        components, components_heading = section(page, "components")
        # On a desktop the long sections are open, the one repeating the cards is folded.
        assert is_open(stores) and not is_open(components)
        assert page.locator(".store-card").first.is_visible()

        stores_heading.click()
        components_heading.press("Enter")  # the keyboard unfolds it as well
        assert not is_open(stores) and is_open(components)
        assert not page.locator(".store-card").first.is_visible()

        page.reload()
        assert not is_open(stores) and is_open(components)
        assert not page.locator(".store-card").first.is_visible()
        page.goto(f"{live_server.url}/categories/identity-access/")
        assert not is_open(section(page, "stores")[0])

        section(page, "stores")[1].click()
        page.goto(f"{live_server.url}{OVERVIEW}")
        assert is_open(stores) and page.locator(".store-card").first.is_visible()
        context.close()


def test_on_a_phone_the_reference_sections_start_folded_until_the_reader_opens_them(
    live_server, bob
):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, bob, viewport=WIDTHS[390])
        page = context.new_page()
        page.goto(f"{live_server.url}{OVERVIEW}")
        folded = ["focus", "notes", "checklist", "stores", "components"]
        assert [name for name in folded if is_open(section(page, name)[0])] == []
        assert is_open(section(page, "highlights")[0])
        # Every section's words are in the page, folded or not (a search in the page finds them).
        assert page.locator('details[data-section="stores"] .store-card').count() == 4

        notes, notes_heading = section(page, "notes")
        notes_heading.click()
        page.reload()
        assert is_open(notes)
        assert page.get_by_text("Flower는 작업 큐 관측용으로").is_visible()
        context.close()


def test_a_link_to_a_folded_section_unfolds_it(live_server, bob):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, bob, viewport=WIDTHS[390])
        page = context.new_page()
        page.goto(f"{live_server.url}{OVERVIEW}")
        page.locator('a.chip-link[href="#components"]').click()
        assert is_open(section(page, "components")[0])
        assert page.locator(".components li").first.is_visible()

        # As after "Run now" on a checklist step, which comes back to the checklist.
        page.goto(f"{live_server.url}{OVERVIEW}#checklist-title")
        assert is_open(section(page, "checklist")[0])

        # Going there is not choosing: the phone's default holds again.
        page.goto(f"{live_server.url}{OVERVIEW}")
        assert not is_open(section(page, "components")[0])
        context.close()


def test_without_javascript_every_section_can_still_be_folded(live_server, bob):
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, bob, viewport=WIDTHS[390], java_script_enabled=False
        )
        page = context.new_page()
        page.goto(f"{live_server.url}{OVERVIEW}")
        stores, stores_heading = section(page, "stores")
        assert is_open(stores)  # the page's own default: nothing folds it on a phone
        stores_heading.click()
        assert not is_open(stores)
        context.close()
