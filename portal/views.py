from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.middleware.http import ConditionalGetMiddleware
from django.shortcuts import get_object_or_404, redirect
from django.utils.cache import patch_cache_control
from django.utils.decorators import decorator_from_middleware
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts.access import is_member, member_required

from . import status
from .models import ChecklistItem
from .pages import (
    category_part,
    home_part,
    page_reader,
    page_response,
    status_part,
    with_csrf_token,
)
from .selectors import item_health, item_uptime, status_item

# How long a browser or proxy (GitLab's image proxy) may keep a badge before asking again.
BADGE_MAX_AGE = 300


@require_safe
@member_required
def home(request):
    part = home_part(user=request.user)
    return page_response(request, part, nav_categories=part.nav)


@require_safe
@member_required
def category_detail(request, slug):
    part = category_part(slug=slug, user=request.user)
    if request.user.is_staff:
        part = with_csrf_token(part, request)
    return page_response(request, part, nav_categories=part.nav, current_category=slug)


@require_safe
@member_required
def status_page(request):
    part = status_part(user=request.user)
    return page_response(request, part, nav_categories=part.nav, status_page=True)


@require_safe
@decorator_from_middleware(ConditionalGetMiddleware)
def badge(request, category, item, kind):
    """An item's status or uptime badge (SVG). Readers who are not members may read only
    those of items marked public, hidden services' only staff; to anyone else the badge
    does not exist (404, never 403, so that its address says nothing)."""
    user = request.user
    reader = page_reader(user)[0] if is_member(user) else None
    found = status_item(category=category, slug=item, reader=reader)
    if kind == "status":
        svg = status.status_badge(item_health(found))
    else:
        days = int(kind.removeprefix("uptime-").removesuffix("d"))
        svg = status.uptime_badge(days, item_uptime(found, days=days))
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    # A members' badge is theirs to cache, not a shared proxy's.
    shared = "public" if found.badge_is_public else "private"
    patch_cache_control(response, max_age=BADGE_MAX_AGE, **{shared: True})
    return response


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
