"""`manage.py workspaces`: the operator's way to the same operations."""

import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from workspaces.models import Workspace


def run(*args) -> str:
    out = io.StringIO()
    call_command("workspaces", *args, stdout=out)
    return out.getvalue()


def test_request_provision_suspend_resume_delete_by_username(bob, alice, committed, workspace_dirs):
    assert "request: done: bob" in run("request", "bob")
    with committed():
        assert "provision: done: bob" in run("provision", "bob", "--by", "alice")
    assert (workspace_dirs[0] / "bob").is_dir()
    listing = run("list")
    assert "bob\tactive\t" in listing and "1 workspace(s)" in listing
    with committed():
        run("suspend", "bob", "--reason", "audit")
    assert Workspace.objects.get(owner=bob).status == "suspended"
    with committed():
        run("resume", "bob")
    with committed():
        run("delete", "bob")
    assert Workspace.objects.get(owner=bob).status == "deleted"
    assert "0 workspace(s)" in run("list")
    assert "bob\tdeleted" in run("list", "--status", "deleted")
    events = AuditEvent.objects.filter(workspace__owner=bob)
    assert events.get(action="workspace.provision").actor == alice
    assert events.get(action="workspace.suspend").actor_name == "manage.py workspaces"


def test_quota_and_over_quota_listing(bob):
    Workspace.objects.create(owner=bob, backend="local", status="active", usage_bytes=3 * 1024**3)
    run("quota", "bob", "--gib", "2")
    assert "OVER QUOTA" in run("list", "--over-quota")


def test_refusals_and_unknown_names_are_errors(bob, carol):
    with pytest.raises(CommandError, match="No such user: nobody"):
        run("provision", "nobody")
    with pytest.raises(CommandError, match="No workspace: bob"):
        run("suspend", "bob")
    with pytest.raises(CommandError, match="refused request"):
        run("request", "carol")  # still pending approval
    run("request", "bob")
    with pytest.raises(CommandError, match="refused resume"):
        run("resume", "bob")
