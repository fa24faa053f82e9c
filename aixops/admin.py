"""What the admin sites of the portal's apps share."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records only the portal itself writes (audit events, scans, check results):
    browsable in the Admin UI, never added, edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
