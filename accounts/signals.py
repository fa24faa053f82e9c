"""Upgrades reach the admin group: permissions that `migrate` creates are granted to it.

Django creates a release's new permissions after migrating, in each app's post_migrate;
the group that Keycloak admins join was given its permissions once, when it was made.
Without this, admins of an upgraded portal would miss a new feature's permissions until
someone granted them by hand. The rule itself is accounts.services.
grant_admin_group_new_permissions; this module only tells it what is new.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Permission
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Max
from django.db.models.signals import post_migrate, pre_migrate

from .services import grant_admin_group_new_permissions

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
