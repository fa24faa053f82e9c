"""Workspaces on a real JupyterHub (tests/hub.py): the portal's lifecycle drives the hub's
users and servers, and every way the hub can fail ends in a message an admin can act on.

One hub serves the module; each test has members of its own."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from devtools.processes import wait_for
from tests.hub import STUCK_SECONDS, use_hub
from tests.workspaces import workspace_helpers
from workspaces import services as workspace_services
from workspaces import tasks as workspace_tasks
from workspaces.backends import WorkspaceSpec
from workspaces.backends import jupyterhub as jupyterhub_backend
from workspaces.backends.jupyterhub import JupyterHubBackend
from workspaces.models import Workspace

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def portal_uses_the_hub(hub, settings):
    use_hub(settings, hub)


@pytest.fixture
def member(django_user_model):
    """An approved member with the given username."""

    def make(username: str):
        return django_user_model.objects.create_user(
            username=username, password="x-password", membership="approved"
        )

    return make


def provisioned(owner, admin, committed) -> Workspace:
    """The owner's workspace, requested and provisioned (the task run as after the commit)."""
    Workspace.objects.request([owner.pk], by=admin)
    workspace = Workspace.objects.get(owner=owner)
    with committed():
        workspace.provision(by=admin)
    workspace.refresh_from_db()
    return workspace


def test_the_lifecycle_runs_the_members_hub_server(hub, member, alice, committed, settings):
    frank = member("Frank")
    workspace = provisioned(frank, alice, committed)

    assert (workspace.status, workspace.last_error) == ("active", "")
    assert workspace.location == f"{hub.url}/user/frank/"
    assert hub.user("frank")["servers"][""]["ready"] is True
    status = hub.server("GET", "frank", "api/status")
    assert status.status_code == 200 and "started" in status.json()
    written = hub.server(
        "PUT",
        "frank",
        "api/contents/notes.txt",
        json={"type": "file", "format": "text", "content": "kept across a suspension"},
    )
    assert written.status_code == 201

    with committed():
        workspace.suspend(by=alice)
    workspace.refresh_from_db()
    assert workspace.status == "suspended"
    assert hub.user("frank")["servers"] == {}
    assert "aixops-suspended" in hub.user("frank")["groups"]
    # The member (or anyone) asking the hub for the server is refused.
    refused = hub.api("POST", "/users/frank/server")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "frank's workspace is suspended by the platform's admins: ask them on the AIXOps "
        "portal to reinstate it. / frank님의 워크스페이스는 플랫폼 관리자가 정지했습니다. "
        "AIXOps 포털 관리자에게 재개를 요청하세요."
    )
    assert hub.user("frank")["servers"] == {}

    with committed():
        workspace.resume(by=alice)
    workspace.refresh_from_db()
    assert (workspace.status, workspace.last_error) == ("active", "")
    assert hub.user("frank")["groups"] == []
    kept = hub.server("GET", "frank", "api/contents/notes.txt")
    assert kept.json()["content"] == "kept across a suspension"

    measured = workspace_tasks.measure_usage.apply(args=[workspace.pk]).get()
    workspace.refresh_from_db()
    assert workspace.last_activity is not None
    assert measured["last_activity"] == workspace.last_activity.isoformat()
    assert workspace.usage_bytes is None and measured["over_quota"] is False

    # Two hours on, nobody has used it: the idle policy stops the server (starting it again
    # is resume's way to the hub, above; test_workspace_idle.py has the member's side).
    settings.WORKSPACE_IDLE_TIMEOUT = 3600
    with committed():
        stopped = workspace_services.stop_idle(now=timezone.now() + timedelta(hours=2))
    workspace.refresh_from_db()
    assert stopped == {"stopped": 1, "checked": 1}
    assert workspace.status == "active" and workspace.idle_stopped_at is not None
    assert hub.user("frank")["servers"] == {}

    with committed():
        workspace.delete_workspace(by=alice)
    workspace.refresh_from_db()
    assert workspace.status == "deleted"
    assert hub.user("frank") is None
    assert not hub.home("frank").exists()
    assert [path.name.split("-")[0] for path in hub.archives()] == ["frank"]
    assert workspace_helpers.audit_actions(workspace) == [
        "workspace.request",
        "workspace.provision",
        "workspace.ready",
        "workspace.suspend",
        "workspace.resume",
        "workspace.idle_stop",
        "workspace.delete",
        "workspace.deleted",
    ]


def test_a_hub_stopped_during_provision_fails_it_and_retry_succeeds_once_back(
    hub, member, alice, committed
):
    heidi = member("heidi")
    hub.stop()
    try:
        workspace = provisioned(heidi, alice, committed)
    finally:
        hub.start()
    assert (workspace.status, workspace.operation) == ("failed", "provision")
    assert workspace.last_error.startswith(f"Cannot reach JupyterHub at {hub.url}")
    assert "retry once it is back" in workspace.last_error

    workspace.retry(by=alice)  # queued; the test delivers the task itself, twice
    first = workspace_tasks.run_operation.apply(args=[workspace.pk, "provision"]).get()
    started = hub.user("heidi")["servers"][""]["started"]
    second = workspace_tasks.run_operation.apply(args=[workspace.pk, "provision"]).get()
    workspace.refresh_from_db()
    assert (workspace.status, workspace.last_error) == ("active", "")
    assert first["status"] == "active" and "skipped" in second
    assert hub.user("heidi")["servers"][""]["started"] == started  # one server, started once
    # The backend itself finds the running server and leaves it be.
    spec = WorkspaceSpec(workspace_id=workspace.pk, username="heidi", quota_gib=1)
    assert JupyterHubBackend().provision(spec) == f"{hub.url}/user/heidi/"
    assert hub.user("heidi")["servers"][""]["started"] == started


def test_a_wrong_token_fails_the_operation_naming_the_setting(
    hub, member, alice, committed, settings
):
    settings.JUPYTERHUB_API_TOKEN = "not-the-token"
    workspace = provisioned(member("ivan"), alice, committed)
    assert workspace.status == "failed"
    assert "refused the portal's token" in workspace.last_error
    assert "JUPYTERHUB_API_TOKEN" in workspace.last_error
    assert hub.user("ivan") is None
    failed = AuditEvent.objects.get(workspace=workspace, action="workspace.failed")
    assert failed.reason == workspace.last_error


def test_a_name_the_hub_refuses_fails_the_provision_saying_so(hub, member, alice, committed):
    workspace = provisioned(member("refused-leo"), alice, committed)
    assert workspace.status == "failed"
    assert workspace.last_error == (
        "JupyterHub refused to create the user 'refused-leo' (Failed to create user: "
        "refused-leo): its authenticator does not accept this name."
    )
    assert hub.user("refused-leo") is None


def test_a_server_that_never_answers_fails_with_the_hubs_message(hub, member, alice, committed):
    workspace = provisioned(member("stuck-judy"), alice, committed)
    assert workspace.status == "failed"
    assert workspace.last_error.startswith(
        "JupyterHub could not start stuck-judy's server: Spawn failed: Server at http://"
    )
    assert workspace.last_error.endswith(
        f"/user/stuck-judy/api didn't respond in {STUCK_SECONDS} seconds"
    )
    assert hub.user("stuck-judy")["servers"] == {}


def test_the_portal_gives_up_on_a_slow_start_after_its_own_timeout(
    hub, member, alice, committed, settings
):
    settings.JUPYTERHUB_START_TIMEOUT = 1  # shorter than the hub's own patience
    workspace = provisioned(member("stuck-ken"), alice, committed)
    assert workspace.status == "failed"
    assert workspace.last_error.startswith(
        "JupyterHub did not get stuck-ken's server ready within 1 s (JUPYTERHUB_START_TIMEOUT)"
    )
    # The spawn was cancelled.
    wait_for("the cancelled spawn to end", lambda: hub.user("stuck-ken")["servers"] == {})


def test_the_reconciliation_finds_what_changed_in_the_hub(hub, member, monkeypatch):
    monkeypatch.setattr(jupyterhub_backend, "USERS_PAGE", 2)  # the listing takes pages
    # An active workspace whose server was stopped in the hub, behind the portal's back.
    workspace = Workspace.objects.create(
        owner=member("olga"), backend="jupyterhub", status="active"
    )
    assert hub.api("POST", "/users/olga").status_code == 201
    member("stranger")  # a member without a workspace, who has a hub user
    assert hub.api("POST", "/users/stranger").status_code == 201

    summary = workspace_services.reconcile()["jupyterhub"]
    workspace.refresh_from_db()
    assert workspace.status == "active"
    assert workspace.drift == "The server is stopped in the backend."
    assert "stranger" in summary["unknown"] and "olga" not in summary["unknown"]
    assert AuditEvent.objects.filter(
        action="workspace.drift", target__username="stranger", workspace=None
    ).exists()

    assert hub.api("DELETE", "/users/olga").status_code == 204
    workspace_services.reconcile()
    assert list(
        AuditEvent.objects.filter(workspace=workspace, action="workspace.drift")
        .order_by("id")
        .values_list("reason", flat=True)
    ) == [
        "The server is stopped in the backend.",
        "The backend has no such workspace: it was removed there.",
    ]
