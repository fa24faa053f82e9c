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


# The confirmation page names this many of the rows an action acts on, and counts the rest:
# "select all N matching" may select tens of thousands.
CONFIRMATION_ROWS_SHOWN = 100


def confirmation_page(
    modeladmin, request, *, title, question, queryset, describe, form
) -> TemplateResponse:
    """The intermediate page of a bulk action that asks first (a reason, a quota): the
    question (an `ngettext_lazy` whose number is "count": `%(action)s` is the `title`), what
    the action acts on (the first rows of `queryset`, each as `describe(row)`, and how many
    more), and the form, posting back to the same action with `apply`. Its queries do not
    grow with the rows."""
    count = queryset.count()
    rows = [describe(row) for row in queryset[:CONFIRMATION_ROWS_SHOWN]]
    select_across = request.POST.get("select_across") == "1"
    if select_across:
        # "Select all N matching": the changelist's filters, in the URL the form posts back
        # to, say which rows; Django needs just one ticked box to run the action. Never N
        # fields, which would pass DATA_UPLOAD_MAX_NUMBER_FIELDS.
        selected = list(queryset.values_list("pk", flat=True)[:1])
    else:  # the boxes ticked on one page of the changelist
        selected = list(queryset.values_list("pk", flat=True))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "question": question % {"action": title, "count": count},
        "rows": rows,
        "more": count - len(rows),
        "selected": selected,
        "form": form,
        "action": request.POST.get("action"),
        "select_across": select_across,
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
