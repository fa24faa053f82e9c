"""An upgrade's new permissions reach the existing admin group (accounts/signals.py)."""

import logging

from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.permissions import admin_group

WORKSPACE_ADMIN = {"view_workspace", "change_workspace"}


def codenames(group) -> set[str]:
    return set(group.permissions.values_list("codename", flat=True))


def test_migrate_grants_the_admin_group_what_a_release_adds(db, caplog):
    group = admin_group()  # made with every permission of its kind
    catalog_edit = Permission.objects.get(codename="change_category")
    group.permissions.remove(catalog_edit)  # an operator's choice, to be kept
    # The portal as it was before workspaces: their permissions did not exist.
    Permission.objects.filter(content_type__model="workspace").delete()
    assert not WORKSPACE_ADMIN & codenames(group)

    with caplog.at_level(logging.INFO, logger="accounts.services"):
        call_command("migrate", verbosity=0)

    granted = codenames(group)
    assert granted >= WORKSPACE_ADMIN
    assert not {"add_workspace", "delete_workspace"} & granted  # never part of the group's
    assert "change_category" not in granted
    assert "new permissions change_workspace, view_workspace" in caplog.text


def test_migrate_again_changes_nothing(db):
    group = admin_group()
    group.permissions.remove(Permission.objects.get(codename="change_category"))
    before = codenames(group)
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    assert codenames(group) == before


def test_without_an_admin_group_migrate_makes_none(db, settings):
    from django.contrib.auth.models import Group

    Permission.objects.filter(content_type__model="workspace").delete()
    call_command("migrate", verbosity=0)
    assert not Group.objects.filter(name=settings.OIDC_ADMIN_GROUP).exists()
