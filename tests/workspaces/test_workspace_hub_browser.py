"""A member opens their workspace in headless Chromium: signed in to the hub through the
realm (the dev provider's `jupyterhub` client), with no second password, into their
server's JupyterLab, where they write a file; suspending the member takes the server
away, reinstating them gives it back with the file, deletion removes the hub user. Someone the
portal has not approved signs in to no server.

Screenshots are kept in artifacts/screenshots/ (workspace-hub-*.png)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from devtools.oidc_provider import running_provider
from tests.browser import ARTIFACTS, chromium, sign_in_at_provider
from tests.hub import Hub, use_hub
from workspaces.models import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What JupyterLab's file browser lists, once the page has loaded.
FILE_BROWSER = ".jp-DirListing-content"
# A cookie-authenticated write to the member's server, as JupyterLab itself makes one.
WRITE_FILE = """async ([path, text]) => {
  const xsrf = document.cookie.split('; ').find((c) => c.startsWith('_xsrf=')).slice(6);
  const response = await fetch(path, {
    method: 'PUT',
    headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
    body: JSON.stringify({type: 'file', format: 'text', content: text}),
  });
  return response.status;
}"""


@pytest.fixture(scope="module")
def signed_on_hub(tmp_path_factory):
    """A hub whose members sign in through the dev provider."""
    hub = Hub(tmp_path_factory.mktemp("jupyterhub"))
    with running_provider(realm="aixops", clients=[hub.provider_client()]) as provider:
        hub.sign_on_issuer = provider.issuer
        try:
            yield hub.start()
        finally:
            hub.stop()


def portal(work):
    """Run a portal step (it uses the database) on another thread: Playwright's sync API
    runs an event loop in this one, where Django refuses database calls. The thread's
    database connection is closed after it, or it would outlive the test database."""

    def step():
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(step).result()


def shot(page, name: str) -> None:
    path = ARTIFACTS / f"workspace-hub-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000


def test_a_member_opens_their_server_with_single_sign_on(
    signed_on_hub, settings, django_user_model, alice
):
    hub = signed_on_hub
    use_hub(settings, hub)
    member = django_user_model.objects.create_user(username="member", membership="approved")
    Workspace.objects.request([member.pk], by=alice)
    workspace = Workspace.objects.get(owner=member)
    workspace.provision(by=alice)  # committed at once: the task runs in process
    workspace.refresh_from_db()
    assert workspace.status == "active"
    client = Client()
    client.force_login(member)
    page = client.get("/accounts/workspace/", headers={"accept-language": "en"}).text
    assert f'<a id="workspace-location" href="{hub.url}/user/member/">' in page

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.goto(workspace.location)
        sign_in_at_provider(tab, "member", "member")
        tab.wait_for_selector(FILE_BROWSER, timeout=60_000)
        assert tab.url.startswith(f"{hub.url}/user/member/lab")
        status = tab.evaluate(WRITE_FILE, ["/user/member/api/contents/notes.txt", "mine"])
        assert status == 201
        assert (hub.home("member") / "notes.txt").read_text() == "mine"
        tab.click("[title='Refresh the file browser.'], [data-command='filebrowser:refresh']")
        tab.wait_for_selector(f"{FILE_BROWSER} >> text=notes.txt")
        shot(tab, "lab")

        # The admin suspends the member: their workspace follows, and the hub with it.
        portal(lambda: member.suspend(by=alice, reason="left the project"))
        assert hub.user("member")["servers"] == {}
        tab.goto(f"{hub.url}/hub/spawn/member")
        # The hub's page says why, and whom to ask (its API too: test_workspace_jupyterhub.py).
        tab.wait_for_selector("text=member's workspace is suspended by the platform's admins")
        refusal = tab.content()
        assert "ask them on the AIXOps portal to reinstate it." in refusal
        assert "AIXOps 포털 관리자에게 재개를 요청하세요." in refusal
        assert "Failed to start your server" not in refusal
        assert hub.user("member")["servers"] == {}
        shot(tab, "suspended")

        portal(lambda: member.reinstate(by=alice))
        assert hub.server("GET", "member", "api/contents/notes.txt").json()["content"] == "mine"

        outsider = browser.new_context().new_page()
        outsider.goto(f"{hub.url}/hub/login")
        sign_in_at_provider(outsider, "unverified", "unverified")
        outsider.wait_for_selector("text=403", timeout=30_000)
        assert hub.user("unverified") is None
        shot(outsider, "not-a-member")

    workspace.delete_workspace(by=alice)
    assert workspace.status == "deleted"
    assert hub.user("member") is None
