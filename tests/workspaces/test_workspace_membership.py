"""Workspaces follow membership: approval requests one, suspension suspends it,
reinstatement resumes it."""

import os
import stat

from accounts.models import User
from audit.models import AuditEvent
from workspaces.models import Workspace


def test_approving_a_member_requests_their_workspace(carol, alice, committed):
    with committed():
        carol.approve(by=alice, ip="10.1.1.1")
    workspace = Workspace.objects.get(owner=carol)
    assert workspace.status == "requested"
    event = AuditEvent.objects.get(workspace=workspace)
    assert (event.action, event.actor, event.automatic, event.reason) == (
        "workspace.request",
        alice,
        True,
        "member approved",
    )


def test_with_auto_provision_approval_ends_with_a_real_directory(
    carol, alice, committed, settings, workspace_dirs
):
    settings.WORKSPACE_AUTO_PROVISION = True
    with committed():
        carol.approve(by=alice)
    workspace = Workspace.objects.get(owner=carol)
    assert workspace.status == "active"
    assert (workspace_dirs[0] / "carol" / "README.md").exists()


def test_auto_request_can_be_switched_off(carol, alice, committed, settings):
    settings.WORKSPACE_AUTO_REQUEST = False
    with committed():
        carol.approve(by=alice)
    assert not Workspace.objects.exists()


def test_bulk_approval_requests_one_workspace_each(carol, alice, committed, django_user_model):
    frank = django_user_model.objects.create_user(username="frank")
    with committed():
        User.objects.transition([carol.pk, frank.pk], User.APPROVE, by=alice)
    assert Workspace.objects.filter(status="requested").count() == 2


def test_suspending_a_member_suspends_the_workspace_and_reinstating_resumes_it(
    bob, alice, committed, settings
):
    settings.WORKSPACE_AUTO_PROVISION = True

    with committed():
        Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    assert workspace.status == "active"

    with committed():
        bob.suspend(by=alice, reason="left the project")
    workspace.refresh_from_db()
    assert workspace.status == "suspended" and workspace.suspended_with_member
    assert stat.S_IMODE(os.stat(workspace.location).st_mode) & stat.S_IWUSR == 0

    with committed():
        bob.reinstate(by=alice)
    workspace.refresh_from_db()
    assert workspace.status == "active"
    assert stat.S_IMODE(os.stat(workspace.location).st_mode) == 0o2770
    assert list(
        AuditEvent.objects.filter(workspace=workspace)
        .order_by("id")
        .values_list("action", "reason")
    )[-2:] == [("workspace.suspend", "member suspended"), ("workspace.resume", "member reinstated")]


def test_reinstating_leaves_a_workspace_an_admin_suspended_alone(bob, alice, committed):
    workspace = Workspace.objects.create(owner=bob, backend="local", status="suspended")
    with committed():
        bob.suspend(by=alice)
        bob.reinstate(by=alice)
    workspace.refresh_from_db()
    assert workspace.status == "suspended"


def test_a_provision_that_finishes_after_its_member_was_suspended_ends_suspended(
    bob, alice, committed, workspace_dirs
):
    from workspaces import services as workspace_services

    Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    Workspace.objects.provision([workspace.pk], by=alice)  # queued; the worker has not run it yet
    with committed():
        bob.suspend(by=alice, reason="left the project")
    workspace.refresh_from_db()
    assert workspace.status == "provisioning"  # nothing to suspend yet

    with committed():
        summary = workspace_services.run_operation(workspace_id=workspace.pk, operation="provision")
    assert summary["status"] == "suspended"
    workspace.refresh_from_db()
    assert workspace.status == "suspended" and workspace.suspended_with_member
    assert stat.S_IMODE(os.stat(workspace.location).st_mode) & stat.S_IWUSR == 0
    assert list(
        AuditEvent.objects.filter(workspace=workspace).order_by("id").values_list("action")
    )[-2:] == [("workspace.ready",), ("workspace.suspend",)]
