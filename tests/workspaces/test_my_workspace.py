"""The member's "My workspace" page: status, usage against quota, where to open it, and
the request button."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import client_for
from workspaces.models import Workspace

PAGE = "/accounts/workspace/"

# 1. the signed-in user (the session comes from the cache), 2. the workspace, 3. the
# categories for the top bar's links.
PAGE_QUERIES = 3


def test_the_top_bar_links_approved_members_to_their_workspace(bob_client, catalog):
    assert f'href="{PAGE}"' in bob_client.get("/").text


def test_a_member_without_a_workspace_can_request_one(bob, bob_client, django_assert_num_queries):
    with django_assert_num_queries(PAGE_QUERIES):
        page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert "You have no workspace yet." in page and 'id="workspace-request"' in page

    response = bob_client.post("/accounts/workspace/request/")
    assert response.status_code == 302 and response.url == PAGE
    workspace = Workspace.objects.get(owner=bob)
    assert workspace.status == "requested"
    event = AuditEvent.objects.get(workspace=workspace)
    assert (event.actor, event.action) == (bob, "workspace.request")

    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert "An administrator will provision it." in page
    assert 'id="workspace-request"' not in page


def test_requesting_twice_makes_one(bob, bob_client):
    bob_client.post("/accounts/workspace/request/")
    bob_client.post("/accounts/workspace/request/")
    assert Workspace.objects.filter(owner=bob).count() == 1


def test_the_request_needs_a_post_with_csrf(bob):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.get("/accounts/workspace/request/").status_code == 405
    assert client.post("/accounts/workspace/request/").status_code == 403
    assert client.post("/accounts/workspace/start/").status_code == 403
    assert not Workspace.objects.exists()


def test_an_active_workspace_shows_where_to_open_it_and_its_usage(
    bob, alice, bob_client, committed, django_assert_num_queries
):
    Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    with committed():
        workspace.provision(by=alice)
    workspace.refresh_from_db()
    Workspace.objects.filter(pk=workspace.pk).update(usage_bytes=512 * 1024**2)
    with django_assert_num_queries(PAGE_QUERIES):
        page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert workspace.location in page
    assert 'data-status="active"' in page
    assert "512.0\xa0MB / 10 GiB (5%)" in page
    assert "over its quota" not in page


def test_a_hub_workspace_shows_its_link_and_when_it_was_last_used(bob, bob_client):
    used = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    Workspace.objects.create(
        owner=bob,
        backend="jupyterhub",
        status="active",
        location="https://hub.example.com/user/bob/",
        last_activity=used,
    )
    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert '<a id="workspace-location" href="https://hub.example.com/user/bob/">' in page
    shown = timezone.localtime(used).isoformat(timespec="seconds")
    assert f'<dd id="workspace-last-activity"><time datetime="{shown}"' in page


def test_a_suspended_hub_workspace_says_its_server_cannot_be_started(bob, bob_client):
    Workspace.objects.create(
        owner=bob,
        backend="jupyterhub",
        status="suspended",
        location="https://hub.example.com/user/bob/",
    )
    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert "its server is stopped and cannot be started" in page
    assert 'id="workspace-location"' not in page
    korean = bob_client.get(PAGE, headers={"accept-language": "ko"}).text
    assert "플랫폼 팀이 재개할 때까지 시작할 수 없습니다" in korean


def test_over_quota_is_a_warning_on_the_page(bob, bob_client):
    Workspace.objects.create(
        owner=bob, backend="local", status="active", quota_gib=1, usage_bytes=2 * 1024**3
    )
    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert 'id="workspace-over-quota"' in page and "Your workspace is over its quota." in page
    korean = bob_client.get(PAGE, headers={"accept-language": "ko"}).text
    assert "내 워크스페이스" in korean


def test_a_deleted_workspace_can_be_replaced(bob, bob_client):
    Workspace.objects.create(owner=bob, backend="local", status="deleted", archive="/a/bob.tgz")
    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert "Your previous workspace was deleted" in page and 'id="workspace-request"' in page
    bob_client.post("/accounts/workspace/request/")
    assert Workspace.objects.current_for(bob).status == "requested"


@pytest.mark.parametrize("persona", ["carol", "dave", "erin"])
def test_only_approved_members_see_or_request_one(persona, request):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(PAGE).status_code == 403
    assert client.post("/accounts/workspace/request/").status_code == 403
    assert client.post("/accounts/workspace/start/").status_code == 403
    assert not Workspace.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get(PAGE).status_code == 302
