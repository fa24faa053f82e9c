from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts.access import member_required

from .models import ChecklistItem
from .pages import category_part, home_part, with_csrf_token


@require_safe
@member_required
def home(request):
    part = home_part(user=request.user)
    return render(request, "portal/page.html", {"page": part, "nav_categories": part.nav})


@require_safe
@member_required
def category_detail(request, slug):
    part = category_part(slug=slug, user=request.user)
    if request.user.is_staff:
        part = with_csrf_token(part, request)
    return render(
        request,
        "portal/page.html",
        {"page": part, "nav_categories": part.nav, "current_category": slug},
    )


@require_POST
@member_required
def run_checklist_step(request, pk):
    """Staff's "Run now" on one checklist step: its checks are probed by the worker."""
    if not request.user.is_staff:
        raise PermissionDenied
    step = get_object_or_404(ChecklistItem.objects.select_related("category"), pk=pk)
    with transaction.atomic():
        queued = step.queue_checks()
    if queued:
        messages.success(request, _("The step's checks are queued; their results show here."))
    else:
        messages.warning(request, _("No enabled check verifies this step."))
    return redirect(f"{step.category.get_absolute_url()}#checklist-title")
