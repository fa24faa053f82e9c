"""The reconciliation: what a backend shows that the portal does not expect (a server
stopped or running behind the portal's back, a workspace removed there, one the portal
does not know) is kept on the workspace and audited once; nothing else changes."""

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tests.workspaces import workspace_helpers
from workspaces import services as workspace_services
from workspaces.models import Workspace


@pytest.fixture
def scripted(monkeypatch, settings):
    return workspace_helpers.install(monkeypatch, settings)


def workspace_of(owner, status="active", **fields) -> Workspace:
    return Workspace.objects.create(owner=owner, backend="scripted", status=status, **fields)


def drift_events(workspace) -> list[str]:
    return list(
        AuditEvent.objects.filter(workspace=workspace, action="workspace.drift")
        .order_by("id")
        .values_list("reason", flat=True)
    )


@pytest.mark.parametrize(
    ("status", "fields", "running", "drift"),
    [
        ("active", {}, True, ""),
        ("active", {}, False, "The server is stopped in the backend."),
        ("active", {}, None, "The backend has no such workspace: it was removed there."),
        ("suspended", {}, False, ""),
        ("suspended", {}, True, "The server runs although the workspace is suspended."),
        ("active", {"idle_stopped_at": timezone.now()}, False, ""),
        (
            "active",
            {"idle_stopped_at": timezone.now()},
            True,
            "The server runs although the idle policy stopped it.",
        ),
        ("active", {"operation": "suspend"}, True, ""),  # queued: its outcome counts
        ("failed", {"operation": "provision"}, None, ""),
        ("requested", {}, None, ""),
    ],
)
def test_what_counts_as_drift(bob, scripted, status, fields, running, drift):
    workspace = workspace_of(bob, status, **fields)
    scripted.found = {} if running is None else {"bob": running}
    workspace_services.reconcile()
    workspace.refresh_from_db()
    assert workspace.drift == drift
    assert drift_events(workspace) == ([drift] if drift else [])
    # Nothing but the drift changes: the admin's last decision stands.
    assert (workspace.status, workspace.operation) == (status, fields.get("operation", ""))
    assert [call for call in scripted.calls if call[0] != "inventory"] == []


def test_drift_is_audited_once_and_cleared_when_it_goes(bob, scripted):
    workspace = workspace_of(bob)
    scripted.found = {"bob": False}
    first = workspace_services.reconcile()
    workspace_services.reconcile()
    assert first["scripted"] == {"checked": 1, "drift": 1, "new_drift": 1, "unknown": []}
    assert drift_events(workspace) == ["The server is stopped in the backend."]

    scripted.found = {"bob": True}  # someone started it again
    assert workspace_services.reconcile()["scripted"]["drift"] == 0
    workspace.refresh_from_db()
    assert workspace.drift == "" and len(drift_events(workspace)) == 1


def test_a_backend_workspace_the_portal_does_not_know_is_reported(bob, carol, scripted, caplog):
    workspace_of(bob)
    scripted.found = {"bob": True, "carol": True, "mallory": False}
    summary = workspace_services.reconcile()
    workspace_services.reconcile()
    assert summary["scripted"]["unknown"] == ["carol", "mallory"]
    events = AuditEvent.objects.filter(action="workspace.drift", target=carol, workspace=None)
    assert list(events.values_list("reason", flat=True)) == [
        "The backend has a workspace 'carol' the portal has no live workspace for."
    ]
    assert "'mallory' the portal has no live workspace for. No member has that name." in (
        caplog.text
    )


def test_a_backend_that_cannot_answer_is_reported_and_changes_nothing(bob, scripted):
    workspace = workspace_of(bob, drift="The server is stopped in the backend.")
    scripted.fail = {"inventory"}
    summary = workspace_services.reconcile()
    workspace.refresh_from_db()
    assert summary == {"scripted": {"error": "inventory refused by the test backend"}}
    assert workspace.drift == "The server is stopped in the backend."
