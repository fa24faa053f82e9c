"""The overview in a real browser, at desktop and phone widths; screenshots are kept."""

from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client

from portal.models import Category, HealthCheck, Scan
from tests.browser import ARTIFACTS, chromium, signed_in_context, top_bar_is_one_row
from tests.factories import make_checks, make_finished_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member_session(live_server, django_user_model):
    call_command("loaddata", "catalog", verbosity=0)
    # Health of every kind on one page: Jenkins slow, GitLab's database down.
    make_checks(Category.objects.get(slug="devops"))
    HealthCheck.objects.filter(service__slug="jenkins").update(status="degraded", latency_ms=1840)
    HealthCheck.objects.filter(data_store__slug="gitlab-postgresql").update(
        status="down", latency_ms=None, uptime_24h=93.1
    )
    make_finished_scan()
    bob = django_user_model.objects.create_user(username="bob", membership="approved")
    client = Client()
    client.force_login(bob)
    return client


def pages_drawn(page) -> list[str]:
    """The pages `page` asks the server for from now on, in order."""
    drawn = []

    def on_request(request):
        if request.resource_type == "document":
            drawn.append(request.url)

    page.on("request", on_request)
    return drawn


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})],
)
def test_overview_renders_and_reflows(live_server, member_session, name, viewport):
    with chromium() as browser:
        context = signed_in_context(
            browser,
            live_server,
            member_session,
            viewport=viewport,
            locale="ko-KR",
            timezone_id="Asia/Seoul",
        )
        page = context.new_page()
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        assert page.locator("h1").inner_text() == "DevOps Guide"
        assert page.locator(".topbar .who").inner_text() == "bob"
        assert page.get_by_text("핵심 서비스 스냅샷").is_visible()
        assert page.locator(".service-card").count() == 5
        assert page.locator("svg.architecture-map .node").count() == 9
        assert page.locator(".scan-status").inner_text().endswith("• Partial Outage")
        assert page.locator(".service-card .sparkline").count() == 5
        assert page.get_by_text("의존 저장소 GitLab Internal PostgreSQL: 중단").is_visible()

        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {name} width"

        cards = page.locator(".service-card").all()
        lefts = {round(card.bounding_box()["x"]) for card in cards}
        if name == "phone":
            assert len(lefts) == 1, "service cards should stack in one column on a phone"
        else:
            assert len(lefts) > 1, "service cards should sit side by side on a desktop"

        # What a reader sees first: the header with the scan line and the first cards.
        page.locator(".hero").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"overview-devops-{name}-top.png"))
        page.locator(".service-card").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"overview-devops-{name}-cards.png"))
        path = ARTIFACTS / f"overview-devops-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        context.close()


def test_a_first_visit_shows_the_scan_in_the_browsers_time_zone(live_server, member_session):
    scan = Scan.objects.get()
    local = scan.finished_at.astimezone(ZoneInfo("America/New_York"))
    shown = f"{local:%-I:%M:%S %p} {local:%Z}"  # EST or EDT, named: not the portal's zone
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, member_session, locale="en-US", timezone_id="America/New_York"
        )
        context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
        page = context.new_page()
        drawn = pages_drawn(page)

        # No tz cookie yet: the server draws Seoul time, the script tells it the zone and
        # has the page drawn again, once.
        page.goto(f"{live_server.url}/categories/devops/", wait_until="commit")
        page.wait_for_selector('time[data-time-zone="America/New_York"]')
        page.wait_for_load_state("load")
        assert page.locator(".scan-status time").inner_text() == shown
        assert len(drawn) == 2
        cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
        assert cookies["tz"] == "America%2FNew_York"  # as the browser writes it

        # From then on each page is right the first time.
        page.goto(f"{live_server.url}/categories/devops/")
        page.wait_for_timeout(300)
        assert len(drawn) == 3
        assert page.locator(".scan-status time").inner_text() == shown
        context.close()


def test_a_reader_in_the_portals_zone_loads_each_page_once(live_server, member_session):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, member_session, timezone_id="Asia/Seoul")
        page = context.new_page()
        drawn = pages_drawn(page)
        page.goto(f"{live_server.url}/categories/devops/")
        page.wait_for_timeout(300)
        assert len(drawn) == 1
        assert page.locator(".scan-status time").get_attribute("data-time-zone") == "Asia/Seoul"
        assert not page.locator(".scan-status time").inner_text().endswith("KST")


WIDTHS = [("desktop", {"width": 1440, "height": 900}), ("phone", {"width": 390, "height": 844})]


@pytest.mark.parametrize(("name", "viewport"), WIDTHS)
@pytest.mark.parametrize(
    ("reader", "url"),
    [
        ("bob", "/"),
        ("bob", "/categories/devops/"),
        ("bob", "/accounts/workspace/"),
        ("carol", "/"),  # the waiting page
    ],
)
def test_the_top_bar_is_one_row_with_every_link_at_hand(
    live_server, member_session, django_user_model, name, viewport, reader, url
):
    client = member_session
    if reader == "carol":
        carol = django_user_model.objects.create_user(username="carol", membership="pending")
        client = Client()
        client.force_login(carol)
    with chromium() as browser:
        context = signed_in_context(browser, live_server, client, viewport=viewport, locale="ko-KR")
        page = context.new_page()
        page.goto(f"{live_server.url}{url}")
        shot = f"topbar-{reader}-{url.strip('/').replace('/', '-') or 'home'}-{name}"
        page.screenshot(path=str(ARTIFACTS / f"{shot}.png"))
        assert top_bar_is_one_row(page), f"the top bar wraps at {name} width"
        sign_out = page.get_by_role("button", name="로그아웃")
        menu = page.get_by_role("button", name="메뉴")
        if name == "desktop":
            assert sign_out.is_visible() and not menu.is_visible()
        else:
            assert menu.is_visible() and not sign_out.is_visible()
            assert menu.get_attribute("aria-expanded") == "false"
            menu.click()
            assert menu.get_attribute("aria-expanded") == "true"
            assert sign_out.is_visible()
            if reader == "bob":
                assert page.locator(".topnav").get_by_role("link", name="DevOps").is_visible()
                assert page.get_by_role("link", name="내 워크스페이스").is_visible()
            page.screenshot(path=str(ARTIFACTS / f"{shot}-menu.png"))
            page.keyboard.press("Escape")
            assert not sign_out.is_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {name} width"
        context.close()


@pytest.mark.parametrize(("name", "viewport"), WIDTHS)
def test_a_map_wider_than_the_screen_says_it_scrolls(live_server, member_session, name, viewport):
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, member_session, viewport=viewport, locale="ko-KR"
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/categories/devops/")
        scroller = page.locator(".map-scroll")
        hidden_part = scroller.evaluate("e => e.scrollWidth - e.clientWidth")
        hint = page.locator(".map-hint")
        fade = page.locator(".map-frame").evaluate(
            "e => getComputedStyle(e, '::after').backgroundImage"
        )
        page.locator(".map-frame").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"map-devops-{name}.png"))
        if name == "desktop":
            assert hidden_part <= 0, "the map fits a desktop screen"
            assert not hint.is_visible() and fade == "none"
        else:
            assert hidden_part > 100, "the map keeps readable labels and scrolls"
            assert hint.is_visible()
            assert "스크롤" in hint.inner_text()
            assert "gradient" in fade  # the edge it continues past fades out
            scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
            page.screenshot(path=str(ARTIFACTS / f"map-devops-{name}-scrolled.png"))
        context.close()


def test_without_javascript_the_phone_top_bar_shows_every_link(live_server, member_session):
    with chromium() as browser:
        context = signed_in_context(
            browser,
            live_server,
            member_session,
            viewport=dict(WIDTHS)["phone"],
            locale="ko-KR",
            java_script_enabled=False,
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/categories/devops/")
        assert not page.locator(".menu-button").is_visible()
        assert page.get_by_role("button", name="로그아웃").is_visible()
        assert page.locator(".topnav").get_by_role("link", name="DevOps").is_visible()
        context.close()
