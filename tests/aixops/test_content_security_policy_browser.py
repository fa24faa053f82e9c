"""The pages under their Content-Security-Policy in a real browser: nothing is refused,
and what their scripts do (the language switch, the admin's widgets) still works."""

import pytest
from django.core.management import call_command

from portal.models import Category, Service
from tests.browser import chromium, signed_in_context
from tests.factories import client_for, make_checks, make_finished_scan
from workspaces.models import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Installed before any of the page's own scripts run, in every page of the context.
WATCH_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def portal(live_server, django_user_model):
    call_command("loaddata", "catalog", verbosity=0)
    make_checks(Category.objects.get(slug="devops"))
    make_finished_scan()
    bob = django_user_model.objects.create_user(username="bob", membership="approved")
    Workspace.objects.create(owner=bob, status=Workspace.Status.ACTIVE, location="/srv/bob")
    alice = django_user_model.objects.create_user(
        username="alice", is_staff=True, is_superuser=True, membership="approved"
    )
    return {"bob": client_for(bob), "alice": client_for(alice)}


class Watched:
    """A page whose refusals are collected: violation events and console errors."""

    def __init__(self, context, base_url):
        context.add_init_script(WATCH_VIOLATIONS)
        self.page = context.new_page()
        self.base_url = base_url
        self.console = []
        self.page.on(
            "console",
            lambda message: self.console.append(message.text) if message.type == "error" else None,
        )

    def open(self, path):
        response = self.page.goto(f"{self.base_url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        return self.page

    def refusals(self) -> list[str]:
        return self.page.evaluate("window.cspViolations") + [
            text for text in self.console if "Content Security Policy" in text
        ]


def test_portal_pages_break_no_rule_and_the_language_switch_works(live_server, portal):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, portal["bob"], locale="ko-KR")
        watched = Watched(context, live_server.url)
        for path in ["/", "/accounts/workspace/", "/categories/devops/"]:
            watched.open(path)
            assert watched.refusals() == [], path

        page = watched.page
        assert page.locator("html").get_attribute("lang") == "ko"
        with page.expect_navigation():
            page.select_option("#language", "en")  # no button: the script submits
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_text("Core service snapshot").is_visible()
        assert watched.refusals() == []
        context.close()


def test_the_watch_sees_a_refusal_when_there_is_one(live_server, portal):
    with chromium() as browser:
        context = signed_in_context(browser, live_server, portal["bob"])
        watched = Watched(context, live_server.url)
        page = watched.open("/")
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">')")
        page.wait_for_function("window.cspViolations.length > 0")
        assert watched.refusals()[0].startswith("style-src-attr inline")
        context.close()


def test_admin_pages_and_widgets_work_under_the_policy(live_server, portal):
    gitlab = Service.objects.get(slug="gitlab")
    with chromium() as browser:
        context = signed_in_context(browser, live_server, portal["alice"])
        watched = Watched(context, live_server.url)
        for path in [
            "/admin/",
            "/admin/accounts/pendingmember/",
            "/admin/workspaces/workspace/",
            "/admin/portal/scan/",
            "/admin/portal/healthcheck/add/",
        ]:
            watched.open(path)
            assert watched.refusals() == [], path

        # The service form: a two-box picker (SelectFilter2), inline rows, date widgets.
        page = watched.open(f"/admin/portal/service/{gitlab.pk}/change/")
        choices = page.locator("#id_talks_to_from option").count()
        page.locator("#id_talks_to_add_all").click()
        assert page.locator("#id_talks_to_to option").count() == choices > 0
        rows = page.locator(".inline-group tr.form-row:not(.empty-form)")
        page.locator(".inline-group .add-row a").click()
        assert rows.count() == 1
        rows.locator(".datetimeshortcuts a").first.click()  # "now" for the start
        assert rows.locator("input[name$='starts_at_0']").input_value()
        assert watched.refusals() == []
        context.close()
