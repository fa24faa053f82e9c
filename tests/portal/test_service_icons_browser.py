"""Tool icons in a real browser, at desktop and phone widths: the logos load (the CSP lets
them), monograms show, and neither pushes the page sideways; screenshots are kept."""

import pytest
from django.core.management import call_command
from django.test import Client

from tests.browser import ARTIFACTS, chromium, sideways_overflow, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [("desktop", {"width": 1440, "height": 900}), ("phone", {"width": 390, "height": 844})]


@pytest.fixture
def member_session(live_server, django_user_model):
    call_command("loaddata", "catalog", verbosity=0)
    bob = django_user_model.objects.create_user(username="bob", membership="approved")
    client = Client()
    client.force_login(bob)
    return client


def loaded_logos(page, selector: str) -> list[str]:
    """The logos under `selector` the browser drew (loaded, not blocked), by file name."""
    return page.eval_on_selector_all(
        f"{selector} img.service-icon",
        "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0)"
        "            .map(i => i.getAttribute('src').split('/').pop())",
    )


@pytest.mark.parametrize(("name", "viewport"), WIDTHS)
def test_icons_show_on_the_category_page_and_the_home_page(
    live_server, member_session, name, viewport
):
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, member_session, viewport=viewport, locale="ko-KR"
        )
        page = context.new_page()
        blocked = []
        page.on(
            "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
        )
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        page.wait_for_load_state("load")
        assert loaded_logos(page, ".service-card") == [
            "django.svg",
            "gitlab.svg",
            "jenkins.svg",
            "gitlab.svg",
        ]
        assert loaded_logos(page, ".components") == loaded_logos(page, ".service-card")
        flower = page.locator(".service-card .monogram")
        assert flower.inner_text() == "F" and flower.is_visible()
        # The icon sits on the name's line, no taller than the name's badge row needs.
        head = page.locator(".service-card .card-head").first.bounding_box()
        icon = page.locator(".service-card .service-icon").first.bounding_box()
        assert icon["height"] <= 32 and head["y"] <= icon["y"] <= head["y"] + head["height"]
        assert page.locator("svg.architecture-map image").count() == 4
        assert page.locator("svg.architecture-map .map-monogram").count() == 1  # Flower
        assert sideways_overflow(page) <= 0
        page.locator(".service-card").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"icons-devops-{name}-cards.png"))
        page.locator("#components").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"icons-devops-{name}-components.png"))
        page.locator(".architecture-map").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"icons-devops-{name}-map.png"))

        assert page.goto(f"{live_server.url}/").ok
        page.wait_for_load_state("load")
        assert loaded_logos(page, ".category-card") == [
            "django.svg",
            "gitlab.svg",
            "jenkins.svg",
            "keycloak.svg",
            "jupyter.svg",
        ]
        assert sideways_overflow(page) <= 0
        page.screenshot(path=str(ARTIFACTS / f"icons-home-{name}.png"), full_page=True)
        assert blocked == []
        context.close()
