"""The Admin UI's audit trails in a real browser: each row reads as its columns say, with
no raw line above it. Screenshots are kept."""

import pytest

from audit.models import AuditEvent
from tests.browser import ARTIFACTS, chromium, signed_in_context
from tests.factories import client_for
from workspaces.models import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("page_of", ["workspace", "member"])
def test_audit_trail_rows_show_no_raw_line(live_server, alice, bob, page_of):
    Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    event = AuditEvent.objects.get(workspace=workspace)
    url = {
        "workspace": f"/admin/workspaces/workspace/{workspace.pk}/change/",
        "member": f"/admin/accounts/user/{bob.pk}/change/",
    }[page_of]
    admin_client = client_for(alice)  # before the browser: its event loop refuses queries
    with chromium() as browser:
        context = signed_in_context(
            browser,
            live_server,
            admin_client,
            viewport={"width": 1440, "height": 900},
            locale="en-US",
        )
        page = context.new_page()
        page.goto(f"{live_server.url}{url}")
        trail = page.locator("#audit_events-group")  # the inline, as Django names it
        rows = trail.locator("tbody tr.form-row")
        assert rows.count() == 1
        assert "Workspace requested" in rows.first.inner_text()  # the action, in words
        shown = trail.inner_text()
        assert str(event) not in shown and "workspace.request" not in shown
        trail.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"admin-audit-trail-{page_of}.png"))
        context.close()
