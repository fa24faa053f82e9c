"""The admin group that Keycloak admins join, what it may do, and how upgrades reach it.

Django creates a release's new permissions after migrating, in each app's post_migrate;
the group was given its permissions once, when it was made. Without the receivers here,
admins of an upgraded portal would miss a new feature's permissions until someone
granted them by hand.
"""

import logging

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Max, Q
from django.db.models.signals import post_migrate, pre_migrate

log = logging.getLogger(__name__)


def admin_group() -> Group:
    """The Django group that Keycloak admins join: what they may do in the admin UI.

    Made on first use with its permissions (`_admin_permissions`); after that, admins of
    the portal may change them, and upgrades only add what new features bring
    (`grant_admin_group_new_permissions`).
    """
    group, created = Group.objects.get_or_create(name=settings.OIDC_ADMIN_GROUP)
    if created:
        group.permissions.set(_admin_permissions())
    return group


def _admin_permissions():
    """The catalog, members and workspaces (view, change; no delete, which would erase
    their audit trail), the pending queue, the audit log and the outbox (view)."""
    change = Q(codename__regex=r"^(view|change)_")
    members = Q(
        content_type__app_label="accounts", content_type__model__in=["user", "pendingmember"]
    )
    workspaces = Q(content_type__app_label="workspaces", content_type__model="workspace")
    records = Q(content_type__app_label="audit", codename="view_auditevent") | Q(
        content_type__app_label="aixops", codename="view_outboxtask"
    )
    return Permission.objects.filter(
        Q(content_type__app_label="portal") | (members & change) | (workspaces & change) | records
    )


def grant_admin_group_new_permissions(*, newer_than: int) -> list[str]:
    """Give an existing admin group the permissions of its kind that `migrate` has just
    created (primary key above `newer_than`): a release's new models or actions reach the
    admins without anyone granting them by hand, and a permission taken away from the
    group on purpose stays away. Returns the codenames granted."""
    group = Group.objects.filter(name=settings.OIDC_ADMIN_GROUP).first()
    if group is None:  # made with every permission when the first admin signs in
        return []
    new = list(_admin_permissions().filter(pk__gt=newer_than).exclude(group=group))
    if new:
        group.permissions.add(*new)
        log.info(
            "granted the %s group the new permissions %s",
            group.name,
            ", ".join(sorted(p.codename for p in new)),
        )
    return [permission.codename for permission in new]


# The newest permission before the running `migrate`, per database; forgotten when the
# next one starts (a process may migrate more than once, as the tests do).
_newest_permission_before: dict[str, int] = {}
_migrated: set[str] = set()


def _remember_newest_permission(sender, using, **kwargs) -> None:
    if using in _newest_permission_before and using not in _migrated:
        return  # another app of the same run
    _migrated.discard(using)
    if Permission._meta.db_table not in connections[using].introspection.table_names():
        _newest_permission_before[using] = 0  # the first migrate: every permission is new
        return
    newest = Permission.objects.using(using).aggregate(newest=Max("pk"))["newest"]
    _newest_permission_before[using] = newest or 0


def _grant_new_permissions(sender, using, apps=global_apps, **kwargs) -> None:
    _migrated.add(using)
    if using == DEFAULT_DB_ALIAS and using in _newest_permission_before:
        # django.contrib.auth creates this app's permissions in its own receiver, which
        # runs after this one (accounts is ready first); creating them here, as it does
        # (missing ones only), lets the grant see them whatever the order.
        create_permissions(sender, verbosity=0, using=using, apps=apps)
        grant_admin_group_new_permissions(newer_than=_newest_permission_before[using])


def connect() -> None:
    pre_migrate.connect(_remember_newest_permission, dispatch_uid="accounts.newest_permission")
    post_migrate.connect(_grant_new_permissions, dispatch_uid="accounts.grant_new_permissions")
