"""The newcomer's journey in headless Chromium, through the provider's real login form:
sign in, wait, get approved by an admin in the Admin UI, reload, see the overview."""

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.browser import ARTIFACTS, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_at_provider(page, username: str, password: str) -> None:
    """Keycloak's login form: what a person fills in."""
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")


def shot(page, name: str) -> None:
    path = ARTIFACTS / f"sso-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000


def test_newcomer_is_approved_and_sees_the_overview(sso, live_server):
    call_command("loaddata", "catalog", verbosity=0)
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

        member_page.reload()
        assert member_page.locator("h1").inner_text() == "DevOps Guide"
        assert member_page.locator(".service-card").count() == 5
        shot(member_page, "4-member-sees-overview")
        admin.close()
        member.close()
    assert User.objects.get(username="member").membership == "approved"
