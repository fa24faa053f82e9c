"""The audit log in the Admin UI: its own read-only list, and the trail inline that member
and workspace pages show."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from aixops.admin import ReadOnlyAdmin

from .models import AuditEvent


class AuditTrailInline(admin.TabularInline):
    """An object's audit trail, newest first, read-only (a member's by default; set
    `fk_name` for another object's)."""

    model = AuditEvent
    fk_name = "target"
    fields = ["created_at", "action", "actor_name", "automatic", "reason", "client_ip"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("Audit trail")
    ordering = ["-created_at", "-id"]
    # A tabular inline prints each row's object (the event's raw one-line form) above
    # the row; the columns already say it all, so the stylesheet hides that line.
    classes = ["audit-trail"]

    class Media:
        css = {"all": ["aixops/admin.css"]}

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log, read-only: nobody edits history."""

    list_display = [
        "created_at",
        "actor_name",
        "automatic",
        "action",
        "target",
        "reason",
        "client_ip",
    ]
    list_filter = ["action", "automatic", "created_at"]
    search_fields = ["actor_name", "target__username", "reason", "client_ip"]
    list_select_related = ["target"]
    date_hierarchy = "created_at"
