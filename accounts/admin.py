"""Admin UI for members and their workspaces: the pending queue, approve / reject /
suspend / reinstate, the workspace console, the audit trail, and groups. The actions call
the same `User.objects.transition()` and `accounts.workspaces` operations as everything else.
Staff who are not superusers never hand out a privilege here (accounts.access)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aixops.admin import ReadOnlyAdmin

from . import outbox, workspaces
from .access import (
    accounts_changeable_by,
    may_change_account,
    may_change_group,
    permissions_held_by,
)
from .models import AuditEvent, MembershipError, OutboxTask, PendingMember, User, Workspace
from .services import client_ip


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
    )


class OptionalReasonForm(ReasonForm):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        required=False,
    )


class AuditTrailInline(admin.TabularInline):
    """The member's audit trail, newest first, read-only."""

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
        css = {"all": ["accounts/admin.css"]}

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _changeable(modeladmin, request, queryset):
    """The selected members this admin may change (access.may_change_account); the others
    are named as left alone."""
    allowed = accounts_changeable_by(request.user, queryset)
    left_alone = list(
        queryset.exclude(pk__in=allowed.values("pk")).values_list("username", flat=True)
    )
    if left_alone:
        modeladmin.message_user(
            request,
            _("Left alone, only a superuser may change them: %(names)s.")
            % {"names": ", ".join(left_alone)},
            messages.WARNING,
        )
    return allowed


def _say_what_waits(modeladmin, request, since) -> None:
    """The change is made; if the broker was away, the work that follows it (e-mails,
    workspace operations) waits in the outbox: say so, rather than pretend or fail."""
    waiting = outbox.unsent_since(since)
    if waiting:
        modeladmin.message_user(
            request,
            ngettext(
                "The work is waiting: the broker is unreachable; %(count)d task will be "
                "sent when it is back.",
                "The work is waiting: the broker is unreachable; %(count)d tasks will be "
                "sent when it is back.",
                waiting,
            )
            % {"count": waiting},
            messages.WARNING,
        )


def _run(modeladmin, request, queryset, transition, reason=""):
    ids = list(queryset.values_list("pk", flat=True))
    since = timezone.now()
    try:
        result = User.objects.transition(
            ids, transition, by=request.user, reason=reason, ip=client_ip(request)
        )
    except MembershipError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    if result.changed:
        modeladmin.message_user(
            request,
            ngettext(
                "%(action)s: %(count)d member.",
                "%(action)s: %(count)d members.",
                len(result.changed),
            )
            % {"action": transition.action, "count": len(result.changed)},
            messages.SUCCESS,
        )
    if result.unchanged:
        modeladmin.message_user(
            request,
            _("%(count)d already done, left as they were.") % {"count": len(result.unchanged)},
            messages.INFO,
        )
    if result.refused:
        modeladmin.message_user(
            request,
            _("%(count)d skipped: their state does not allow %(action)s.")
            % {"count": len(result.refused), "action": transition.action},
            messages.WARNING,
        )
    _say_what_waits(modeladmin, request, since)


def _with_reason(modeladmin, request, queryset, transition, form_class, label):
    """An intermediate page asking for the reason, then the transition."""
    queryset = _changeable(modeladmin, request, queryset)
    if not queryset.exists():
        return None
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        _run(modeladmin, request, queryset, transition, form.cleaned_data["reason"])
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": label,
        "opts": modeladmin.model._meta,
        "form": form,
        "members": list(queryset.only("pk", "username", "email")),
        "action": request.POST.get("action"),
        "action_label": label,
        "select_across": request.POST.get("select_across") == "1",
    }
    return TemplateResponse(request, "admin/accounts/reject_reason.html", context)


@admin.action(description=_("Approve selected members"), permissions=["change"])
def approve(modeladmin, request, queryset):
    _run(modeladmin, request, _changeable(modeladmin, request, queryset), User.APPROVE)


@admin.action(description=_("Reject selected members (asks for a reason)"), permissions=["change"])
def reject(modeladmin, request, queryset):
    return _with_reason(modeladmin, request, queryset, User.REJECT, ReasonForm, _("Reject"))


@admin.action(description=_("Suspend selected members"), permissions=["change"])
def suspend(modeladmin, request, queryset):
    return _with_reason(
        modeladmin, request, queryset, User.SUSPEND, OptionalReasonForm, _("Suspend")
    )


@admin.action(description=_("Reinstate selected members"), permissions=["change"])
def reinstate(modeladmin, request, queryset):
    _run(modeladmin, request, _changeable(modeladmin, request, queryset), User.REINSTATE)


@admin.action(description=_("Request a workspace for selected members"), permissions=["change"])
def request_workspaces(modeladmin, request, queryset):
    ids = list(_changeable(modeladmin, request, queryset).values_list("pk", flat=True))
    since = timezone.now()
    result = workspaces.request(ids, by=request.user, ip=client_ip(request))
    _report(modeladmin, request, result, _("request a workspace"), since)


class GuardedRows:
    """For a model admin that sets `may_change(actor, row)`: a row it refuses is read-only
    for that actor and cannot be deleted by them, whatever their model permissions say."""

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or self.may_change(request.user, obj)
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (
            obj is None or self.may_change(request.user, obj)
        )


# What Keycloak decides at every sign-in (the staff and superuser flags, groups, the
# subject) or only a superuser may (direct permissions, the password; `is_active`, since
# suspending is the audited way to take access and also suspends the workspace): read-only
# for other staff.
SUPERUSER_ONLY_FIELDS = [
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
    "oidc_subject",
    "password",
]


@admin.register(User)
class UserAdmin(GuardedRows, DjangoUserAdmin):
    """Members and staff. Staff who are not superusers edit a profile, never a privilege:
    the fields above are read-only for them, a superuser's row is read-only, only superusers
    set passwords, and the actions leave superusers alone."""

    may_change = staticmethod(may_change_account)

    list_display = [
        "username",
        "email",
        "first_name",
        "last_name",
        "membership",
        "is_staff",
        "date_joined",
    ]
    list_filter = ["membership", "is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["username", "email", "first_name", "last_name", "oidc_subject"]
    actions = [approve, reject, suspend, reinstate, request_workspaces]
    readonly_fields = ["membership", "membership_changed_at", "membership_reason"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (
            _("Membership"),
            {"fields": ["membership", "membership_changed_at", "membership_reason"]},
        ),
        (_("Single sign-on"), {"fields": ["oidc_subject", "language"]}),
    ]
    inlines = [AuditTrailInline]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or request.user.is_superuser:
            return fieldsets
        # The password is left out, not shown read-only: that would show its hash.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "password"]})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if request.user.is_superuser else [*fields, *SUPERUSER_ONLY_FIELDS]

    def user_change_password(self, request, id, form_url=""):
        # Keycloak owns passwords; a local one signs in without it (break-glass, or everyone
        # when there is no Keycloak), so whoever sets it can become that person.
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(GuardedRows, DjangoGroupAdmin):
    """Django's group admin, except that staff who are not superusers change only groups
    within their own rights (access.may_change_group) and grant only permissions they hold."""

    may_change = staticmethod(may_change_group)

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "permissions" and not request.user.is_superuser:
            field.queryset = field.queryset.filter(pk__in=permissions_held_by(request.user))
        return field


@admin.register(PendingMember)
class PendingMemberAdmin(GuardedRows, admin.ModelAdmin):
    may_change = staticmethod(may_change_account)

    list_display = ["username", "email", "first_name", "last_name", "date_joined", "groups_list"]
    list_filter = ["groups", "date_joined"]
    search_fields = ["username", "email", "first_name", "last_name"]
    ordering = ["date_joined"]
    actions = [approve, reject]
    list_per_page = 200
    # A waiting member's page (read-only, see has_change_permission): what to decide on, and
    # never the password's hash.
    fields = ["username", "first_name", "last_name", "email", "groups", "date_joined"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(membership=User.Membership.PENDING)
            .prefetch_related("groups")
        )

    @admin.display(description=_("groups"))
    def groups_list(self, obj):
        return ", ".join(g.name for g in obj.groups.all())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The list and its actions; editing a member happens on the user page.
        return obj is None and super().has_change_permission(request)


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


@admin.register(OutboxTask)
class OutboxTaskAdmin(ReadOnlyAdmin):
    """The outbox, read-only: the work changes queued, what waits for the broker (not
    sent) and what went out."""

    list_display = ["created_at", "task", "sent_at", "started_at", "attempts", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter), "task"]
    search_fields = ["task_id"]
    date_hierarchy = "created_at"


# --- Workspaces ---------------------------------------------------------------------------


def _report(modeladmin, request, result, label, since) -> None:
    """Tell the admin what a (bulk) workspace operation did, skipped and refused, and
    what of it waits for the broker."""
    if result.changed:
        modeladmin.message_user(
            request,
            ngettext(
                "%(action)s: %(count)d workspace.",
                "%(action)s: %(count)d workspaces.",
                len(result.changed),
            )
            % {"action": label, "count": len(result.changed)},
            messages.SUCCESS,
        )
    if result.unchanged:
        modeladmin.message_user(
            request,
            _("Workspaces already done, left as they were: %(count)d.")
            % {"count": len(result.unchanged)},
            messages.INFO,
        )
    if result.refused:
        modeladmin.message_user(
            request,
            _("Workspaces skipped, their state does not allow %(action)s: %(count)d.")
            % {"count": len(result.refused), "action": label},
            messages.WARNING,
        )
    _say_what_waits(modeladmin, request, since)


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
        except workspaces.WorkspaceError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            return None
        _report(modeladmin, request, result, label, since)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": label,
        "opts": modeladmin.model._meta,
        "form": form,
        "workspaces": list(queryset.select_related("owner")),
        "action": request.POST.get("action"),
        "action_label": label,
        "select_across": request.POST.get("select_across") == "1",
    }
    return TemplateResponse(request, "admin/accounts/workspace_confirm.html", context)


@admin.action(description=_("Provision selected workspaces"), permissions=["change"])
def provision_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, workspaces.provision, _("Provision"))


@admin.action(description=_("Suspend selected workspaces"), permissions=["change"])
def suspend_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, workspaces.suspend, _("Suspend"))


@admin.action(description=_("Resume selected workspaces"), permissions=["change"])
def resume_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, workspaces.resume, _("Resume"))


@admin.action(
    description=_("Delete selected workspaces (archive, then remove)"), permissions=["change"]
)
def delete_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, workspaces.delete, _("Delete"))


@admin.action(description=_("Retry selected failed workspaces"), permissions=["change"])
def retry_workspaces(modeladmin, request, queryset):
    return _confirmed(modeladmin, request, queryset, workspaces.retry, _("Retry"))


@admin.action(description=_("Change the quota of selected workspaces"), permissions=["change"])
def change_quota(modeladmin, request, queryset):
    return _confirmed(
        modeladmin, request, queryset, workspaces.change_quota, _("Change quota"), QuotaForm
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
        "updated_at",
    ]
    list_filter = ["status", OverQuotaFilter, "backend", "operation"]
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
        (None, {"fields": ["owner", "status", "backend", "location", "archive"]}),
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
        if obj.usage_measured_at:
            text = format_html(
                "{}, {} files, measured {}", text, obj.usage_files, obj.usage_measured_at
            )
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
