"""The workspace console in the Admin UI: the list, the bulk actions with their
confirmation step, the quota change, retry, and each workspace's page."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import client_for
from workspaces.models import Workspace

CHANGELIST = "/admin/workspaces/workspace/"


def act(client, action, *items, **extra):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [w.pk for w in items], **extra}
    )


def make_members(count: int, status: str = "active") -> list[Workspace]:
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"member-{n}", membership="approved") for n in range(count)
    )
    return Workspace.objects.bulk_create(
        Workspace(owner=user, backend="local", status=status, usage_bytes=n * 1024**3)
        for n, user in enumerate(users)
    )


@pytest.fixture
def requested(bob):
    Workspace.objects.request([bob.pk], by=bob)
    return Workspace.objects.get(owner=bob)


def test_staff_sees_the_list_with_usage_against_quota(sam, bob):
    Workspace.objects.create(
        owner=bob, backend="local", status="active", quota_gib=1, usage_bytes=3 * 1024**3
    )
    page = client_for(sam).get(CHANGELIST, headers={"accept-language": "en"}).text
    assert "bob" in page and "Active" in page
    assert "3.0\xa0GB / 1 GiB (300%)" in page
    assert 'alt="True"' in page  # the over-quota column


def test_the_list_filters_by_status_and_over_quota_and_searches(sam, bob, carol, alice):
    carol.approve(by=alice)  # which requests her workspace
    Workspace.objects.create(owner=bob, backend="local", status="active", usage_bytes=11 * 1024**3)
    client = client_for(sam)
    over = client.get(CHANGELIST, {"quota": "over"}).text
    assert "/admin/workspaces/workspace/" in over and ">bob<" in over and ">carol<" not in over
    requested = client.get(CHANGELIST, {"status__exact": "requested"}).text
    assert ">carol<" in requested and ">bob<" not in requested
    found = client.get(CHANGELIST, {"q": "caro"}).text
    assert ">carol<" in found and ">bob<" not in found


# Listing workspaces, whatever their number:
# 1. the signed-in user (the session comes from the cache),
# 2. and 3. sam's permissions: his own, and his group's,
# 4. the count of the (filtered) rows (no second, unfiltered count: show_full_result_count),
# 5. the page of workspaces joined with their owners,
# 6. the distinct backends for the backend filter.
LIST_QUERIES = 6


@pytest.mark.parametrize("count", [3, 60])
def test_the_list_costs_the_same_queries_for_any_number(sam, count, django_assert_num_queries):
    make_members(count)
    client = client_for(sam)
    client.get(CHANGELIST)  # warm the session cache
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(CHANGELIST)
    assert response.status_code == 200 and f"member-{count - 1}" in response.text


def test_bulk_provision_asks_for_confirmation_first(sam, requested, committed, workspace_dirs):
    client = client_for(sam)
    form = act(client, "provision_workspaces", requested)
    assert form.status_code == 200
    assert "action-confirm-form" in form.text and "bob" in form.text
    requested.refresh_from_db()
    assert requested.status == "requested"  # nothing happened yet

    with committed():
        done = act(client, "provision_workspaces", requested, apply="1", reason="new joiner")
    assert done.status_code == 302
    requested.refresh_from_db()
    assert requested.status == "active"
    assert (workspace_dirs[0] / "bob").is_dir()
    event = AuditEvent.objects.get(workspace=requested, action="workspace.provision")
    assert (event.actor, event.reason, event.client_ip) == (sam, "new joiner", "127.0.0.1")


def test_bulk_suspend_resume_and_delete(sam, requested, committed):
    client = client_for(sam)
    with committed():
        act(client, "provision_workspaces", requested, apply="1")
    with committed():
        act(client, "suspend_workspaces", requested, apply="1")
    requested.refresh_from_db()
    assert requested.status == "suspended"
    with committed():
        act(client, "resume_workspaces", requested, apply="1")
    requested.refresh_from_db()
    assert requested.status == "active"
    with committed():
        act(client, "delete_workspaces", requested, apply="1", reason="left")
    requested.refresh_from_db()
    assert requested.status == "deleted" and requested.archive.endswith(".tar.gz")


def test_an_action_refused_by_the_state_says_so(sam, requested):
    response = client_for(sam).post(
        CHANGELIST,
        {"action": "resume_workspaces", "_selected_action": [requested.pk], "apply": "1"},
        headers={"accept-language": "en"},
        follow=True,
    )
    assert "Workspaces skipped, their state does not allow Resume: 1." in response.text
    requested.refresh_from_db()
    assert requested.status == "requested"
    assert not AuditEvent.objects.filter(action="workspace.resume").exists()


def test_change_quota_through_the_form(sam, requested):
    client = client_for(sam)
    form = act(client, "change_quota", requested)
    assert 'name="quota_gib"' in form.text
    invalid = act(client, "change_quota", requested, apply="1", quota_gib="0")
    assert invalid.status_code == 200  # the form again, with the error
    done = act(client, "change_quota", requested, apply="1", quota_gib="25", cpu_limit="2.5")
    assert done.status_code == 302
    requested.refresh_from_db()
    assert requested.quota_gib == 25 and str(requested.cpu_limit) == "2.50"
    assert AuditEvent.objects.get(action="workspace.quota").reason == "10 → 25 GiB"


def test_retry_a_failed_workspace_from_the_admin(sam, requested, committed, settings, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    settings.WORKSPACE_ROOT = blocker
    client = client_for(sam)
    with committed():
        act(client, "provision_workspaces", requested, apply="1")
    requested.refresh_from_db()
    assert requested.status == "failed"
    page = client.get(f"{CHANGELIST}{requested.pk}/change/").text
    assert "Cannot create" in page

    settings.WORKSPACE_ROOT = tmp_path / "workspaces"
    with committed():
        act(client, "retry_workspaces", requested, apply="1")
    requested.refresh_from_db()
    assert requested.status == "active"


def test_the_workspace_page_shows_its_audit_trail_and_flower_link(
    sam, requested, committed, settings
):
    settings.FLOWER_URL = "https://platform.example.com/flower"
    with committed():
        requested.provision(by=sam)
    requested.refresh_from_db()
    page = client_for(sam).get(f"{CHANGELIST}{requested.pk}/change/").text
    assert f'href="https://platform.example.com/flower/task/{requested.task_id}"' in page
    for action in ("workspace.request", "workspace.provision", "workspace.ready"):
        assert action in page or AuditEvent.Action(action).label in page


def test_the_workspace_page_shows_when_the_hub_last_saw_it_used(sam, bob):
    workspace = Workspace.objects.create(
        owner=bob,
        backend="jupyterhub",
        status="active",
        usage_measured_at=timezone.now(),
        last_activity=timezone.now(),
    )
    page = client_for(sam).get(
        f"{CHANGELIST}{workspace.pk}/change/", headers={"accept-language": "en"}
    ).text
    assert "— / 10 GiB, measured" in page and "; last used" in page
    assert "None files" not in page


def test_the_member_list_can_request_workspaces(sam, bob):
    response = client_for(sam).post(
        "/admin/accounts/user/", {"action": "request_workspaces", "_selected_action": [bob.pk]}
    )
    assert response.status_code == 302
    assert Workspace.objects.get(owner=bob).status == "requested"


def test_workspaces_cannot_be_added_or_deleted_as_rows(sam, requested):
    client = client_for(sam)
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.get(f"{CHANGELIST}{requested.pk}/delete/").status_code == 403


def test_members_cannot_reach_the_console(bob_client):
    assert bob_client.get(CHANGELIST).status_code == 302


def test_the_admin_index_says_which_workspaces_need_an_admin(sam, bob, carol, alice):
    carol.approve(by=alice)  # which requests her workspace
    Workspace.objects.create(owner=bob, backend="local", status="failed", last_error="disk")
    Workspace.objects.filter(owner=carol).update(
        status="active", quota_gib=1, usage_bytes=5 * 1024**3
    )
    page = client_for(sam).get("/admin/", headers={"accept-language": "en"}).text
    assert "0 workspaces requested" in page
    assert "1 workspace failed" in page and "1 workspace over quota" in page
    assert f"{CHANGELIST}?quota=over" in page
    korean = client_for(sam).get("/admin/", headers={"accept-language": "ko"}).text
    assert "할당량을 넘은 워크스페이스 1개" in korean
