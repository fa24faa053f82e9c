"""What the admin sites of the portal's apps share: read-only record admins, the reason
forms of the bulk actions, and how an action says what it did and what still waits."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import outbox
from .models import OutboxTask


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records only the portal itself writes (audit events, scans, check results, the
    outbox): browsable in the Admin UI, never added, edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReasonForm(forms.Form):
    """The intermediate page of an action that asks why (kept in the audit log)."""

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


def confirmation_page(modeladmin, request, *, title, question, rows, form) -> TemplateResponse:
    """The intermediate page of a bulk action that asks first (a reason, a quota): the
    question, what the action acts on (`rows`, as (pk, text)), and the form, posting back
    to the same action with `apply`."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "question": question,
        "rows": rows,
        "form": form,
        "action": request.POST.get("action"),
        "select_across": request.POST.get("select_across") == "1",
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)


def report_result(modeladmin, request, result, since, *, changed, unchanged, refused) -> None:
    """Tell the admin what a (bulk) transition did: `changed`, `unchanged` and `refused` turn
    a count into the message for the rows it moved, the ones already done and the ones
    their state did not allow; then what of the work it queued waits for the broker."""
    for ids, message, level in (
        (result.changed, changed, messages.SUCCESS),
        (result.unchanged, unchanged, messages.INFO),
        (result.refused, refused, messages.WARNING),
    ):
        if ids:
            modeladmin.message_user(request, message(len(ids)), level)
    report_waiting(modeladmin, request, since)


def report_waiting(modeladmin, request, since) -> None:
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


@admin.register(OutboxTask)
class OutboxTaskAdmin(ReadOnlyAdmin):
    """The outbox, read-only: the work changes queued, what waits for the broker (not
    sent) and what went out."""

    list_display = ["created_at", "task", "sent_at", "started_at", "attempts", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter), "task"]
    search_fields = ["task_id"]
    date_hierarchy = "created_at"
