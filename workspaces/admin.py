"""The workspace console in the Admin UI: list, filter and operate members' workspaces,
each operation after a confirmation page; and the member list's "request a workspace"."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

from accounts.admin import UserAdmin, changeable_members
from accounts.models import User
from aixops.admin import OptionalReasonForm, confirmation_page, report_result
from aixops.networks import client_ip
from audit.admin import AuditTrailInline

from .models import Workspace, WorkspaceError


def _report(modeladmin, request, result, label, since) -> None:
    """Tell the admin what a (bulk) workspace operation did, skipped and refused, and
    what of it waits for the broker."""
    report_result(
        modeladmin,
        request,
        result,
        since,
        changed=lambda count: ngettext(
            "%(action)s: %(count)d workspace.", "%(action)s: %(count)d workspaces.", count
        )
        % {"action": label, "count": count},
        unchanged=lambda count: _("Workspaces already done, left as they were: %(count)d.")
        % {"count": count},
        refused=lambda count: _(
            "Workspaces skipped, their state does not allow %(action)s: %(count)d."
        )
        % {"count": count, "action": label},
    )


class QuotaForm(OptionalReasonForm):
    quota_gib = forms.IntegerField(label=_("Storage quota (GiB)"), min_value=1, max_value=100_000)
    cpu_limit = forms.DecimalField(
        label=_("CPU limit (cores)"), required=False, min_value=0, max_digits=6, decimal_places=2
    )
    memory_mib = forms.IntegerField(label=_("Memory limit (MiB)"), required=False, min_value=1)
    field_order = ["quota_gib", "cpu_limit", "memory_mib", "reason"]


def _confirmed(modeladmin, request, queryset, operation, label, form_class=OptionalReasonForm):
    """Every workspace action goes through a confirmation page listing the workspaces (with
    a reason, and the figures for a quota change); only its submit runs the operation."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        ids = list(queryset.values_list("pk", flat=True))
        since = timezone.now()
        try:
            result = operation(ids, by=request.user, ip=client_ip(request), **form.cleaned_data)
        except WorkspaceError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            return None
        _report(modeladmin, request, result, label, since)
        return None
    return confirmation_page(
        modeladmin,
        request,
        title=label,
        question=ngettext_lazy(
            "%(action)s this workspace?", "%(action)s these %(count)d workspaces?", "count"
        ),
        queryset=queryset.select_related("owner"),
        describe=lambda workspace: (
            f"{workspace.owner.username} — {workspace.get_status_display()}"
            + (f" ({workspace.location})" if workspace.location else "")
        ),
        form=form,
    )


@admin.action(description=_("Provision selected workspaces"), permissions=["change"])
def provision_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, Workspace.objects.provision, _("Provision"))


@admin.action(description=_("Suspend selected workspaces"), permissions=["change"])
def suspend_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, Workspace.objects.suspend, _("Suspend"))


@admin.action(description=_("Resume selected workspaces"), permissions=["change"])
def resume_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, Workspace.objects.resume, _("Resume"))


@admin.action(
    description=_("Delete selected workspaces (archive, then remove)"), permissions=["change"]
)
def delete_workspaces(modeladmin, request, queryset):
    return _confirmed(
        modeladmin, request, queryset, Workspace.objects.delete_workspaces, _("Delete")
    )


@admin.action(description=_("Retry selected failed workspaces"), permissions=["change"])
def retry_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, Workspace.objects.retry, _("Retry"))


@admin.action(description=_("Change the quota of selected workspaces"), permissions=["change"])
def change_quota(modeladmin, request, queryset):
    return _confirmed(
        modeladmin, request, queryset, Workspace.objects.change_quota, _("Change quota"), QuotaForm
    )


class OverQuotaFilter(admin.SimpleListFilter):
    title = _("quota")
    parameter_name = "quota"

    def lookups(self, request, model_admin):
        return [("over", _("Over quota")), ("within", _("Within quota"))]

    def queryset(self, request, queryset):
        if self.value() == "over":
            return queryset.over_quota()
        if self.value() == "within":
            return queryset.exclude(pk__in=queryset.over_quota().values("pk"))
        return queryset


class WorkspaceAuditInline(AuditTrailInline):
    """The workspace's own lines of the audit log."""

    fk_name = "workspace"


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    """The workspace console. Every field is read-only: changes go through the actions,
    which are guarded, audited and queued like every other way in."""

    list_display = [
        "owner",
        "status",
        "usage_against_quota",
        "over_quota",
        "backend",
        "location",
        "drift",
        "updated_at",
    ]
    list_filter = [
        "status",
        OverQuotaFilter,
        ("drift", admin.EmptyFieldListFilter),
        "backend",
        "operation",
    ]
    search_fields = ["owner__username", "owner__email", "location"]
    list_select_related = ["owner"]
    list_per_page = 100
    # One COUNT per page, not two: the unfiltered total is what the status filter is for.
    show_full_result_count = False
    actions = [
        provision_workspaces,
        suspend_workspaces,
        resume_workspaces,
        delete_workspaces,
        retry_workspaces,
        change_quota,
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    *("owner", "status", "idle_stopped_at", "drift"),
                    *("backend", "location", "archive"),
                ]
            },
        ),
        (_("Quota and usage"), {"fields": ["quota_gib", "cpu_limit", "memory_mib", "usage"]}),
        (
            _("Operations"),
            {"fields": ["operation", "operation_claimed_at", "last_task", "last_error"]},
        ),
        (_("Times"), {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "owner",
        "status",
        "idle_stopped_at",
        "drift",
        "backend",
        "location",
        "archive",
        "quota_gib",
        "cpu_limit",
        "memory_mib",
        "usage",
        "operation",
        "operation_claimed_at",
        "last_task",
        "last_error",
        "created_at",
        "updated_at",
    ]
    inlines = [WorkspaceAuditInline]

    @admin.display(description=_("usage / quota"))
    def usage_against_quota(self, obj):
        if obj.usage_bytes is None:
            return format_html("— / {} GiB", obj.quota_gib)
        return format_html(
            "{} / {} GiB ({}%)", filesizeformat(obj.usage_bytes), obj.quota_gib, obj.usage_percent
        )

    @admin.display(description=_("over quota"), boolean=True)
    def over_quota(self, obj):
        return obj.is_over_quota

    @admin.display(description=_("usage"))
    def usage(self, obj):
        text = self.usage_against_quota(obj)
        if obj.usage_files is not None:
            text = format_html("{}, {} files", text, obj.usage_files)
        if obj.usage_measured_at:
            text = format_html("{}, measured {}", text, obj.usage_measured_at)
        if obj.last_activity:
            text = format_html("{}; {} {}", text, _("last used"), obj.last_activity)
        if obj.is_over_quota:
            text = format_html('{} <strong class="over-quota">{}</strong>', text, _("over quota"))
        return text

    @admin.display(description=_("last task"))
    def last_task(self, obj):
        if not obj.task_id:
            return "—"
        return format_html(
            '<a href="{}/task/{}" target="_blank" rel="noopener">{}</a>',
            settings.FLOWER_URL,
            obj.task_id,
            obj.task_id,
        )

    def has_add_permission(self, request):
        # Workspaces are requested by members or through the member list's action.
        return False

    def has_delete_permission(self, request, obj=None):
        # Rows are kept for the audit; "Delete selected workspaces" archives the data.
        return False


@admin.action(description=_("Request a workspace for selected members"), permissions=["change"])
def request_workspaces(modeladmin, request, queryset):
    ids = list(changeable_members(modeladmin, request, queryset).values_list("pk", flat=True))
    since = timezone.now()
    result = Workspace.objects.request(ids, by=request.user, ip=client_ip(request))
    _report(modeladmin, request, result, _("request a workspace"), since)


class MemberAdmin(UserAdmin):
    """The member list, with this room's action: accounts does not know workspaces, so the
    action is added here, to the user admin accounts registered."""

    actions = [*UserAdmin.actions, request_workspaces]


admin.site.unregister(User)
admin.site.register(User, MemberAdmin)
