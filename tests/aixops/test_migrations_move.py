"""An existing portal database migrates into the new rooms with every row intact."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The schema as it was before audit and workspaces had apps of their own.
BEFORE = [("accounts", "0003_workspaces"), ("portal", "0003_health")]


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_members_audit_events_and_workspaces_survive_the_move():
    old = migrate_to(BEFORE)
    User = old.get_model("accounts", "User")
    Workspace = old.get_model("accounts", "Workspace")
    AuditEvent = old.get_model("accounts", "AuditEvent")
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    Group = old.get_model("auth", "Group")
    alice = User.objects.create(username="alice", membership="approved", is_staff=True)
    bob = User.objects.create(username="bob", membership="approved")
    workspace = Workspace.objects.create(owner=bob, backend="local", status="active", quota_gib=7)
    AuditEvent.objects.create(actor=alice, actor_name="alice", action="approve", target=bob)
    AuditEvent.objects.create(
        actor=alice, actor_name="alice", action="workspace.provision", target=bob,
        workspace=workspace,
    )
    audit_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="auditevent")
    view_audit, _ = Permission.objects.get_or_create(
        content_type=audit_type, codename="view_auditevent", defaults={"name": "Can view"}
    )
    admins = Group.objects.create(name="Platform admins")
    admins.permissions.add(view_audit)

    call_command("migrate", verbosity=0)

    from django.contrib.auth.models import Group as NewGroup

    from audit.models import AuditEvent as NewAuditEvent
    from workspaces.models import Workspace as NewWorkspace

    moved = NewWorkspace.objects.get()
    assert (moved.pk, moved.owner.username, moved.status, moved.quota_gib) == (
        workspace.pk, "bob", "active", 7,
    )
    events = list(NewAuditEvent.objects.order_by("pk").values_list("action", "workspace_id"))
    assert events == [("approve", None), ("workspace.provision", workspace.pk)]
    assert NewGroup.objects.get(name="Platform admins").permissions.filter(
        content_type__app_label="audit", codename="view_auditevent"
    ).exists()
    # New rows still get fresh keys after the rename.
    again = NewWorkspace.objects.create(owner=moved.owner, backend="local", status="deleted")
    assert again.pk > moved.pk
