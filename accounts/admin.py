"""Admin UI for members: the pending queue, approve / reject / suspend / reinstate, and the
audit trail. The actions call the same `User.objects.transition()` as everything else."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import AuditEvent, MembershipError, PendingMember, User
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

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _run(modeladmin, request, queryset, transition, reason=""):
    ids = list(queryset.values_list("pk", flat=True))
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


def _with_reason(modeladmin, request, queryset, transition, form_class, label):
    """An intermediate page asking for the reason, then the transition."""
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
    _run(modeladmin, request, queryset, User.APPROVE)


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
    _run(modeladmin, request, queryset, User.REINSTATE)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
    actions = [approve, reject, suspend, reinstate]
    readonly_fields = ["membership", "membership_changed_at", "membership_reason"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (
            _("Membership"),
            {"fields": ["membership", "membership_changed_at", "membership_reason"]},
        ),
        (_("Single sign-on"), {"fields": ["oidc_subject"]}),
    ]
    inlines = [AuditTrailInline]


@admin.register(PendingMember)
class PendingMemberAdmin(admin.ModelAdmin):
    list_display = ["username", "email", "first_name", "last_name", "date_joined", "groups_list"]
    list_filter = ["groups", "date_joined"]
    search_fields = ["username", "email", "first_name", "last_name"]
    ordering = ["date_joined"]
    actions = [approve, reject]
    list_per_page = 200

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
class AuditEventAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
