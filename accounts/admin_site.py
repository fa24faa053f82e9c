"""The portal's admin site: only approved staff get in, and the index shows who is waiting."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class PortalAdminSite(admin.AdminSite):
    """Django's admin site plus the membership gate, the pending-members count and the
    workspaces that need an admin (requested, failed, over quota)."""

    site_header = _("AIXOps administration")
    site_title = _("AIXOps admin")
    # Not an override of admin/index.html: the app index pages extend that template too,
    # and they have neither count.
    index_template = "admin/portal_index.html"

    def has_permission(self, request):
        # Keycloak's admin role makes a user staff at sign-in; a suspended (or not yet
        # approved) admin must still not get in.
        return super().has_permission(request) and request.user.is_approved

    def index(self, request, extra_context=None):
        from .models import User, Workspace

        extra_context = {
            **(extra_context or {}),
            "pending_members": User.objects.filter(membership=User.Membership.PENDING).count(),
            "workspace_attention": Workspace.objects.needing_attention(),
        }
        return super().index(request, extra_context)
