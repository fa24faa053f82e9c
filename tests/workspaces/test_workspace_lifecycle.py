"""Workspace lifecycle: requested → provisioning → active ⇄ suspended → deleting → deleted,
failed from anywhere; every transition guarded, audited and safe to repeat. These run the
real tasks (eagerly) against the real local backend in a temporary directory."""

import os
import stat
import tarfile

import pytest
from django.db import IntegrityError

from audit.models import AuditEvent
from tests.workspaces.workspace_helpers import audit_actions
from workspaces.models import Workspace, WorkspaceError


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def bobs(bob, alice, committed) -> Workspace:
    """Bob's workspace, provisioned and active."""
    with committed():
        Workspace.objects.request([bob.pk], by=bob)
        workspace = Workspace.objects.get(owner=bob)
        workspace.provision(by=alice)
    workspace.refresh_from_db()
    return workspace


def test_request_makes_a_requested_workspace_with_an_audit_event(bob):
    result = Workspace.objects.request([bob.pk], by=bob, ip="10.0.0.5")
    assert result.changed == [bob.pk]
    workspace = Workspace.objects.get(owner=bob)
    assert workspace.status == "requested"
    assert workspace.backend == "local" and workspace.quota_gib == 10
    event = AuditEvent.objects.get(workspace=workspace)
    assert (event.action, event.actor, event.target, event.client_ip) == (
        "workspace.request",
        bob,
        bob,
        "10.0.0.5",
    )


def test_request_twice_keeps_one_live_workspace(bob):
    Workspace.objects.request([bob.pk], by=bob)
    again = Workspace.objects.request([bob.pk], by=bob)
    assert again.unchanged == [bob.pk] and again.changed == []
    assert Workspace.objects.filter(owner=bob).count() == 1


def test_only_approved_members_get_a_workspace(carol, dave, erin):
    result = Workspace.objects.request([carol.pk, dave.pk, erin.pk], by=None)
    assert sorted(result.refused) == sorted([carol.pk, dave.pk, erin.pk])
    assert not Workspace.objects.exists()


def test_the_database_allows_one_live_workspace_per_member(bob):
    Workspace.objects.create(owner=bob, backend="local")
    Workspace.objects.create(owner=bob, backend="local", status="deleted")  # kept for the audit
    with pytest.raises(IntegrityError):
        Workspace.objects.create(owner=bob, backend="local")


def test_provision_makes_the_directory_and_records_where_it_is(bobs, workspace_dirs, alice):
    root, _archive = workspace_dirs
    assert bobs.status == "active"
    assert bobs.location == str(root / "bob")
    assert mode(root / "bob") == 0o2770
    assert "bob's AIXOps workspace" in (root / "bob" / "README.md").read_text()
    assert bobs.task_id and bobs.operation == "" and bobs.last_error == ""
    assert audit_actions(bobs) == ["workspace.request", "workspace.provision", "workspace.ready"]
    provision_event = AuditEvent.objects.get(workspace=bobs, action="workspace.provision")
    ready_event = AuditEvent.objects.get(workspace=bobs, action="workspace.ready")
    assert provision_event.actor == alice
    assert ready_event.automatic and ready_event.actor is None


def test_suspend_makes_it_read_only_and_resume_gives_it_back(bobs, alice, committed):
    path = bobs.location
    (open(os.path.join(path, "notes.txt"), "w")).close()
    with committed():
        assert bobs.suspend(by=alice, reason="over quota for a month") is True
    bobs.refresh_from_db()
    assert bobs.status == "suspended" and bobs.operation == ""
    assert mode(path) == 0o2550
    assert mode(os.path.join(path, "notes.txt")) & stat.S_IWUSR == 0

    with committed():
        assert bobs.resume(by=alice) is True
    bobs.refresh_from_db()
    assert bobs.status == "active"
    assert mode(path) == 0o2770
    suspend_event = AuditEvent.objects.get(workspace=bobs, action="workspace.suspend")
    assert suspend_event.reason == "over quota for a month"
    assert audit_actions(bobs)[-2:] == ["workspace.suspend", "workspace.resume"]


def test_delete_archives_removes_and_keeps_the_row(bobs, alice, committed, workspace_dirs, bob):
    root, archive = workspace_dirs
    (root / "bob" / "results.csv").write_text("a,b\n1,2\n")
    with committed():
        assert bobs.delete_workspace(by=alice, reason="left the company") is True
    bobs.refresh_from_db()
    assert bobs.status == "deleted" and bobs.location == ""
    assert not (root / "bob").exists()
    assert bobs.archive.startswith(str(archive / "bob-"))
    with tarfile.open(bobs.archive) as tar:
        assert tar.extractfile("bob/results.csv").read() == b"a,b\n1,2\n"
    assert audit_actions(bobs)[-2:] == ["workspace.delete", "workspace.deleted"]

    # A member whose workspace was deleted may ask for a new one; the old row stays.
    assert Workspace.objects.request([bob.pk], by=bob).changed == [bob.pk]
    assert list(Workspace.objects.filter(owner=bob).values_list("status", flat=True)) == [
        "requested",
        "deleted",
    ]
    assert Workspace.objects.current_for(bob).status == "requested"


@pytest.mark.parametrize(
    ("status", "method", "allowed"),
    [
        ("requested", "suspend", False),
        ("requested", "resume", False),
        ("requested", "delete_workspace", True),
        ("active", "provision", None),  # already done: no change, no error
        ("active", "resume", None),
        ("suspended", "provision", False),
        ("suspended", "suspend", None),
        ("failed", "suspend", False),
        ("deleted", "provision", False),
        ("deleted", "delete_workspace", None),
        ("provisioning", "delete_workspace", False),
    ],
)
def test_operations_are_guarded_on_the_state(bob, alice, status, method, allowed):
    workspace = Workspace.objects.create(owner=bob, backend="local", status=status)
    if allowed is False:
        with pytest.raises(WorkspaceError):
            getattr(workspace, method)(by=alice)
        assert not AuditEvent.objects.filter(workspace=workspace).exists()
    else:
        assert getattr(workspace, method)(by=alice) is bool(allowed)
        assert AuditEvent.objects.filter(workspace=workspace).count() == (1 if allowed else 0)


def test_an_operation_in_flight_blocks_the_next_one(bobs, alice):
    from django.utils import timezone

    Workspace.objects.filter(pk=bobs.pk).update(
        operation="suspend", operation_claimed_at=timezone.now(), status="suspended"
    )
    with pytest.raises(WorkspaceError):
        bobs.resume(by=alice)


def test_provision_and_resume_need_an_approved_owner(bob, alice, erin):
    requested = Workspace.objects.create(owner=erin, backend="local")
    with pytest.raises(WorkspaceError):
        requested.provision(by=alice)
    bob.suspend(by=alice)
    suspended = Workspace.objects.create(owner=bob, backend="local", status="suspended")
    with pytest.raises(WorkspaceError):
        suspended.resume(by=alice)


def test_bulk_operations_report_what_they_did(bob, alice, carol, erin, committed):
    carol.approve(by=alice)  # which requests her workspace
    one = Workspace.objects.create(owner=bob, backend="local", status="requested")
    two = Workspace.objects.get(owner=carol)
    Workspace.objects.filter(pk=two.pk).update(status="active")
    three = Workspace.objects.create(owner=erin, backend="local", status="suspended")
    with committed():
        result = Workspace.objects.provision([one.pk, two.pk, three.pk], by=alice)
    assert (result.changed, result.unchanged, result.refused) == ([one.pk], [two.pk], [three.pk])


def test_change_quota_is_audited_with_the_old_and_new_figures(bobs, alice, committed):
    with committed():
        assert bobs.change_quota(by=alice, quota_gib=50, memory_mib=4096) is True
    bobs.refresh_from_db()
    assert (bobs.quota_gib, bobs.memory_mib) == (50, 4096)
    event = AuditEvent.objects.get(workspace=bobs, action="workspace.quota")
    assert event.reason == "10 → 50 GiB" and event.actor == alice
    assert bobs.usage_measured_at is not None  # measured again straight away


def test_a_quota_below_one_gib_is_refused(bobs, alice):
    with pytest.raises(WorkspaceError):
        bobs.change_quota(by=alice, quota_gib=0)


def test_over_quota_is_usage_above_the_quota(bob):
    workspace = Workspace.objects.create(owner=bob, backend="local", status="active", quota_gib=1)
    assert not workspace.is_over_quota  # not measured yet
    Workspace.objects.filter(pk=workspace.pk).update(usage_bytes=2 * 1024**3)
    workspace.refresh_from_db()
    assert workspace.is_over_quota and workspace.usage_percent == 200
    assert list(Workspace.objects.over_quota()) == [workspace]
