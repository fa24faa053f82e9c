"""The portal's admin site: only approved staff get in, and the index shows what waits for
an admin (members to approve, workspaces to look at), as each app reports it."""

from collections.abc import Callable

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

# What the admin index shows at its top: (template, function of the request returning the
# context that template reads as `part`). Apps add theirs when they are ready.
_index_parts: list[tuple[str, Callable[[object], dict]]] = []


def add_to_index(template: str, context: Callable[[object], dict]) -> None:
    """Show `template`, rendered with `part=context(request)`, on the admin index."""
    if (template, context) not in _index_parts:
        _index_parts.append((template, context))


class PortalAdminSite(admin.AdminSite):
    """Django's admin site plus the membership gate and what waits for an admin."""

    site_header = _("AIXOps administration")
    site_title = _("AIXOps admin")
    # Not an override of admin/index.html: the app index pages extend that template too,
    # and they have none of the index's parts.
    index_template = "admin/portal_index.html"

    def has_permission(self, request):
        # Keycloak's admin role makes a user staff at sign-in; a suspended (or not yet
        # approved) admin must still not get in.
        return super().has_permission(request) and request.user.is_approved

    def index(self, request, extra_context=None):
        parts = [(template, context(request)) for template, context in _index_parts]
        return super().index(request, {**(extra_context or {}), "index_parts": parts})
