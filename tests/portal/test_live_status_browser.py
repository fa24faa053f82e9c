"""Live status in a real browser: a scan while a category page is open changes its cards,
its header and its map without a reload, in Korean and in English."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client

from portal.models import HealthCheck, Scan, Service
from portal.scans import scan_run
from tests.browser import ARTIFACTS, chromium, signed_in_context
from tests.servers import RecordingServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JENKINS_CARD = '[data-live="service:devops/jenkins"]'


def scan_beside_the_browser() -> dict:
    """A scan, as the worker runs one, on a thread of its own: Playwright's event loop owns
    this one, where Django refuses database calls."""

    def scan():
        try:
            return scan_run()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as executor:
        return executor.submit(scan).result()


@pytest.fixture
def jenkins():
    """Jenkins, played by a loopback server whose answer the test flips; one answer is
    enough to change its status either way."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def member_session(live_server, jenkins, django_user_model, settings):
    settings.LIVE_STATUS_SECONDS = 1
    call_command("loaddata", "catalog", verbosity=0)
    HealthCheck.objects.create(
        slug="jenkins-http",
        service=Service.objects.get(slug="jenkins"),
        target=jenkins.url("/login"),
        failures_before_down=1,
        successes_before_up=1,
    )
    assert scan_run()["up"] == 1
    bob = django_user_model.objects.create_user(username="bob", membership="approved")
    client = Client()
    client.force_login(bob)
    return client


@pytest.mark.parametrize(
    ("locale", "up", "down", "outage"),
    [
        # The seed page keeps the category statuses in English, in Korean too.
        ("ko-KR", "정상", "중단", "Major Outage"),
        ("en-US", "up", "down", "Major Outage"),
    ],
)
def test_a_scan_changes_the_open_page_without_a_reload(
    live_server, member_session, jenkins, locale, up, down, outage
):
    jenkins_dot = f'[data-node="service-{Service.objects.get(slug="jenkins").pk}"] .dot'
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, member_session, locale=locale, timezone_id="Asia/Seoul"
        )
        page = context.new_page()
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        card = page.locator(f"{JENKINS_CARD} .health")
        assert "health-up" in card.get_attribute("class")
        assert page.locator(f"{JENKINS_CARD} .health-status").inner_text() == up
        time_before = page.locator("[data-scan-status] time").get_attribute("datetime")
        page.evaluate("window.drawnOnce = true")
        home = context.new_page()
        assert home.goto(f"{live_server.url}/").ok
        devops_status = home.locator('[data-live="category:devops"] .scan-status')
        assert devops_status.get_attribute("data-category-status") == "optimal"

        jenkins.get_status = 503
        assert scan_beside_the_browser()["down"] == 1

        page.wait_for_selector(f"{JENKINS_CARD} .health.health-down", timeout=15_000)
        assert page.locator(f"{JENKINS_CARD} .health-status").inner_text() == down
        assert page.locator(f"{JENKINS_CARD} [data-live-figure='uptime_24h']").inner_text() == (
            "50%"
        )
        header = page.locator("[data-scan-status]")
        assert header.get_attribute("data-scan-status") == "major_outage"
        assert page.locator(".scan-label").inner_text() == outage
        assert page.locator("[data-scan-status] time").get_attribute("datetime") >= time_before
        assert "status-down" in page.locator(jenkins_dot).get_attribute("class")
        # The same document: not reloaded, not navigated.
        assert page.evaluate("window.drawnOnce") is True
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        # The home page open beside it follows too.
        home.wait_for_selector(
            '[data-live="category:devops"] .scan-status.status-major_outage', timeout=15_000
        )
        assert devops_status.locator("[data-live-label]").inner_text() == outage
        assert home.evaluate("performance.getEntriesByType('navigation').length") == 1
        page.screenshot(path=ARTIFACTS / f"live-status-{locale}.png")
        page.locator(JENKINS_CARD).screenshot(path=ARTIFACTS / f"live-status-card-{locale}.png")

        # And back up on the next scan.
        jenkins.get_status = 200
        assert scan_beside_the_browser()["up"] == 1
        page.wait_for_selector(f"{JENKINS_CARD} .health.health-up", timeout=15_000)
        assert page.evaluate("window.drawnOnce") is True


def test_an_open_page_asks_gently(live_server, member_session):
    """One question per interval (with jitter), none while the tab is hidden, one at once
    when it is shown again, and ever longer waits once the answers fail (signed out)."""
    with chromium() as browser:
        context = signed_in_context(browser, live_server, member_session)
        page = context.new_page()
        asked = []
        page.on("request", lambda request: "/live/" in request.url and asked.append(request.url))
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        page.wait_for_timeout(5_000)
        assert 2 <= len(asked) <= 7  # every 0.8 to 1.2 s, plus the answer's time

        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        page.wait_for_timeout(300)  # a question already on its way
        before = len(asked)
        page.wait_for_timeout(3_000)
        assert len(asked) == before

        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        page.wait_for_timeout(300)
        assert len(asked) == before + 1

        # Signed out: each answer is a redirect to sign in, and the waits double.
        context.clear_cookies()
        page.wait_for_timeout(1_500)
        failing = len(asked)
        page.wait_for_timeout(7_000)
        assert len(asked) - failing <= 3  # about 2, 4 then 8 s apart
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_a_page_drawn_before_the_first_scan_shows_it_when_it_comes(
    live_server, member_session, jenkins
):
    Scan.objects.all().delete()
    with chromium() as browser:
        context = signed_in_context(browser, live_server, member_session, locale="en-US")
        page = context.new_page()
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        header = page.locator("[data-scan-status]")
        assert header.inner_text() == "Last Scan: No scan yet"
        assert page.locator("[data-scan-status] time").count() == 0

        assert scan_beside_the_browser()["up"] == 1
        page.wait_for_selector("[data-scan-status] time", timeout=15_000)
        assert page.locator(".scan-label").inner_text() == "System Optimal"
        assert "No scan yet" not in header.inner_text()
        assert header.get_attribute("data-scan-status") == "optimal"
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
