"""Admin UI for members: the pending queue, approve / reject / suspend / reinstate with the
audit trail, and groups. The actions call the same `User.objects.transition()` as every
other way in. Staff who are not superusers never hand out a privilege here
(accounts.access)."""

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

from aixops.admin import OptionalReasonForm, ReasonForm, confirmation_page, report_result
from aixops.networks import client_ip
from audit.admin import AuditTrailInline

from .access import (
    accounts_changeable_by,
    may_change_account,
    may_change_group,
    permissions_held_by,
)
from .models import MembershipError, PendingMember, User


def changeable_members(modeladmin, request, queryset):
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
    report_result(
        modeladmin,
        request,
        result,
        since,
        changed=lambda count: ngettext(
            "%(action)s: %(count)d member.", "%(action)s: %(count)d members.", count
        )
        % {"action": transition.action, "count": count},
        unchanged=lambda count: _("%(count)d already done, left as they were.")
        % {"count": count},
        refused=lambda count: _("%(count)d skipped: their state does not allow %(action)s.")
        % {"count": count, "action": transition.action},
    )


def _with_reason(modeladmin, request, queryset, transition, form_class, label):
    """An intermediate page asking for the reason, then the transition."""
    queryset = changeable_members(modeladmin, request, queryset)
    if not queryset.exists():
        return None
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        _run(modeladmin, request, queryset, transition, form.cleaned_data["reason"])
        return None
    return confirmation_page(
        modeladmin,
        request,
        title=label,
        question=ngettext_lazy(
            "%(action)s this member:", "%(action)s these %(count)d members:", "count"
        ),
        queryset=queryset.only("pk", "username", "email"),
        describe=lambda member: (
            f"{member.username} <{member.email}>" if member.email else member.username
        ),
        form=form,
    )


@admin.action(description=_("Approve selected members"), permissions=["change"])
def approve(modeladmin, request, queryset):
    _run(modeladmin, request, changeable_members(modeladmin, request, queryset), User.APPROVE)


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
    _run(modeladmin, request, changeable_members(modeladmin, request, queryset), User.REINSTATE)


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
    actions = [approve, reject, suspend, reinstate]
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
    # The order of the `user_pending_queue` index; ending in the primary key, so Django adds
    # no tie-breaker of its own that the index does not hold.
    ordering = ["date_joined", "pk"]
    actions = [approve, reject]
    # Django's default page: each row costs its rendering, and approving many at once is
    # "select all N matching", not a longer page.
    list_per_page = 100
    # The queue is all there is to this model: counting it twice ("N of N") says nothing.
    show_full_result_count = False
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
