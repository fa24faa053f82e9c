"""A member's API token page in a real browser, under the portal's CSP: make a token, copy
it while it is shown, use it, revoke it."""

import pytest

from tests.aixops.test_content_security_policy_browser import Watched, portal  # noqa: F401
from tests.browser import ARTIFACTS, chromium, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_makes_uses_and_revokes_a_token(live_server, portal):  # noqa: F811
    with chromium() as browser:
        context = signed_in_context(browser, live_server, portal["bob"], locale="en-US")
        watched = Watched(context, live_server.url)
        page = watched.open("/")
        page.get_by_role("link", name="API tokens").click()
        page.fill("#id_name", "deploy check")
        page.select_option("#id_expires_in_days", "90")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator("#new-api-token-secret").inner_text()
        page.screenshot(path=str(ARTIFACTS / "api-token-created.png"))
        assert watched.refusals() == []

        # A script: no session, only the token.
        script = browser.new_context().request
        health = f"{live_server.url}/api/health/"
        bearer = {"authorization": f"Bearer {secret}"}
        assert script.get(health, headers=bearer).status == 200

        page.goto(f"{live_server.url}/accounts/tokens/")
        assert secret not in page.content()
        row = page.locator(f'tr[data-token-prefix="{secret[:12]}"]')
        assert "deploy check" in row.inner_text()
        row.get_by_role("button", name="Revoke").click()
        assert "revoked" in row.inner_text()
        assert script.get(health, headers=bearer).status == 401
        assert watched.refusals() == []
        context.close()
