"""Every response carries a strict Content-Security-Policy, and no page needs more: no
inline script, style or event handler anywhere the portal renders."""

import re

import pytest

from portal.models import Category
from tests.factories import client_for, make_checks, make_finished_scan
from workspaces.models import Workspace

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"<[^>]+\sstyle=", re.IGNORECASE),
    "event handler": re.compile(r"<[^>]+\son[a-z]+=", re.IGNORECASE),
    "javascript: link": re.compile(r"javascript:", re.IGNORECASE),
}


def policy_directives(policy: str) -> dict[str, str]:
    return dict(part.split(" ", 1) for part in policy.split("; "))


def assert_strict(response):
    assert policy_directives(response["Content-Security-Policy"]) == policy_directives(POLICY)


def assert_no_inline_markup(html: str, url: str):
    for what, pattern in INLINE.items():
        found = pattern.search(html)
        assert found is None, f"{url} has an {what}: {found and found.group(0)}"


def assert_page_strict(client, url: str):
    """The page answers, under the policy, with nothing the policy would refuse."""
    response = client.get(url)
    assert response.status_code == 200
    assert_strict(response)
    assert_no_inline_markup(response.content.decode(), url)


@pytest.fixture
def health(catalog):
    """Every page part that health adds: cards, sparklines, the scan time."""
    make_checks(Category.objects.get(slug="devops"))
    make_finished_scan()


MEMBER_PAGES = ["/", "/categories/devops/", "/accounts/workspace/", "/api/categories/"]
OPEN_PAGES = ["/accounts/login/", "/accounts/signed-out/", "/healthz", "/readyz"]


@pytest.mark.parametrize("url", MEMBER_PAGES)
def test_member_pages_carry_the_policy_and_need_nothing_inline(health, bob_client, url):
    assert_page_strict(bob_client, url)


@pytest.mark.parametrize("url", OPEN_PAGES)
def test_open_pages_carry_the_policy(db, client, url):
    assert_page_strict(client, url)


def test_error_pages_carry_the_policy(catalog, client, bob_client, carol):
    assert_strict(client.get("/categories/devops/"))  # the redirect to sign in
    assert_strict(bob_client.get("/no/such/page/"))
    assert_strict(bob_client.post("/api/categories/"))  # 405
    waiting = client_for(carol).get("/categories/devops/")
    assert waiting.status_code == 403
    assert_strict(waiting)
    assert_no_inline_markup(waiting.content.decode(), "the waiting page")


ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/pendingmember/",
    "/admin/workspaces/workspace/",
    "/admin/portal/scan/",
    "/admin/portal/service/",
    "/admin/portal/healthcheck/add/",
]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_carry_the_policy_and_our_parts_need_nothing_inline(health, alice, url):
    assert_page_strict(client_for(alice), url)


def test_an_over_quota_workspace_is_marked_without_an_inline_style(db, alice, bob):
    workspace = Workspace.objects.create(owner=bob, quota_gib=1, usage_bytes=2 * 1024**3)
    page = client_for(alice).get(f"/admin/workspaces/workspace/{workspace.pk}/change/").text
    assert '<strong class="over-quota">' in page
    assert_no_inline_markup(page, "the workspace page")
