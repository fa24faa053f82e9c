"""The portal's journeys in headless Chromium, end to end, as people live them:

1. a newcomer signs in through the provider's real login form and waits for approval;
2. an admin signs in and approves them in the Admin UI;
3. a real health scan runs, and the member reloads to the category overview with its
   live health;
4. the member signs out, which ends the portal session and the Keycloak session.

Screenshots are kept in artifacts/screenshots/ (sso-*.png).
"""

import re
import threading

import pytest
from django.core.management import call_command

from accounts.models import User
from portal.models import DataStore, HealthCheck, Scan, Service
from portal.scans import scan_run
from tests.browser import ARTIFACTS, chromium, sign_in_at_provider
from tests.subprocesses import TEST_REDIS_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED_HEALTH_LINE = re.compile(r"Last Scan: (오전|오후) \d{1,2}:\d{2}:\d{2} • System Optimal")


def shot(page, name: str) -> None:
    path = ARTIFACTS / f"sso-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000


def real_checks_of(live_server) -> None:
    """Checks of what really runs here: the portal's readiness, the broker's Redis."""
    HealthCheck.objects.create(
        slug="admin-ui-live",
        service=Service.objects.get(slug="admin-ui"),
        kind=HealthCheck.Kind.HTTP,
        target=f"{live_server.url}/readyz",
        conditions="[STATUS] == 200\n[BODY].status == ok",
    )
    HealthCheck.objects.create(
        slug="celery-redis-live",
        data_store=DataStore.objects.get(slug="celery-redis"),
        kind=HealthCheck.Kind.REDIS,
        target=TEST_REDIS_URL,
    )


def scan_in_another_thread() -> dict:
    # Playwright's sync API runs an event loop in this thread, and the scan runs its own.
    summary = {}
    worker = threading.Thread(target=lambda: summary.update(scan_run()))
    worker.start()
    worker.join(timeout=60)
    return summary


def test_newcomer_is_approved_reads_live_health_and_signs_out(sso, live_server):
    call_command("loaddata", "catalog", verbosity=0)
    real_checks_of(live_server)
    with chromium() as browser:
        member = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
        member_page = member.new_page()
        member_page.goto(f"{live_server.url}/categories/devops/")
        assert member_page.url.startswith(sso.issuer)  # sent to Keycloak
        sign_in_at_provider(member_page, "member", "member")
        member_page.wait_for_selector("#membership-pending")
        assert member_page.url == f"{live_server.url}/categories/devops/"
        assert member_page.locator(".service-card").count() == 0
        shot(member_page, "1-member-waits")

        admin = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
        admin_page = admin.new_page()
        admin_page.goto(f"{live_server.url}/admin/")
        sign_in_at_provider(admin_page, "admin", "admin")
        admin_page.wait_for_selector("#pending-members")
        shot(admin_page, "2-admin-index")
        admin_page.click("#pending-members a")
        # (No ORM calls in here: Playwright's sync API runs an event loop in this thread.)
        row = admin_page.locator("#result_list tr", has_text="member@aixops.test")
        row.locator('input[name="_selected_action"]').check()
        admin_page.select_option('select[name="action"]', "approve")
        admin_page.click('button[name="index"]')
        admin_page.wait_for_selector(".messagelist .success")
        shot(admin_page, "3-admin-approved")
        admin.close()

        member_page.reload()
        assert member_page.locator("h1").inner_text() == "DevOps Guide"
        assert member_page.locator(".service-card").count() == 5
        assert "아직 스캔 없음" in member_page.locator("[data-scan-status]").inner_text()
        shot(member_page, "4-member-sees-overview")

        summary = scan_in_another_thread()
        assert summary["checked"] == 2 and summary["up"] == 2, summary
        member_page.reload()
        header = member_page.locator("[data-scan-status]").inner_text()
        assert SEED_HEALTH_LINE.search(" ".join(header.split())), header
        shot(member_page, "5-member-sees-live-health")

        member_page.get_by_role("button", name="로그아웃").click()
        member_page.wait_for_url(f"{live_server.url}/accounts/signed-out/**")
        shot(member_page, "6-signed-out")
        # Both sessions are over: the portal sends them to Keycloak, which asks again.
        member_page.goto(f"{live_server.url}/categories/devops/")
        assert member_page.url.startswith(sso.issuer)
        member_page.wait_for_selector("#kc-form-login")
        member.close()

    assert User.objects.get(username="member").membership == "approved"
    assert Scan.objects.finished().count() == 1
