import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.middleware.http import ConditionalGetMiddleware
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.decorators import decorator_from_middleware
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.access import is_member, member_required

from . import live, status
from .models import ChecklistItem
from .pages import (
    PageState,
    cached_json,
    category_part,
    home_part,
    page_reader,
    page_state,
    status_part,
    with_csrf_token,
)
from .selectors import item_health, item_uptime, status_item

# How long a browser or proxy (GitLab's image proxy) may keep a badge before asking again.
BADGE_MAX_AGE = 300


@require_safe
@member_required
def home(request):
    state = page_state()
    part = home_part(user=request.user, state=state)
    live_from = live_status_of(reverse("portal:live-home"), state)
    return render(
        request,
        "portal/page.html",
        {"page": part, "nav_categories": part.nav, "live": live_from},
    )


@require_safe
@member_required
def category_detail(request, slug):
    state = page_state()
    part = category_part(slug=slug, user=request.user, state=state)
    live_from = live_status_of(reverse("portal:live-category", args=[slug]), state)
    if request.user.is_staff:
        part = with_csrf_token(part, request)
    return render(
        request,
        "portal/page.html",
        {"page": part, "nav_categories": part.nav, "current_category": slug, "live": live_from},
    )


def live_status_of(url: str, state: PageState) -> dict:
    """What a page's live-status script (live.js) needs: where to ask, how often, and the
    page state the page is drawn from."""
    return {"url": url, "state": state.cache_key, "seconds": settings.LIVE_STATUS_SECONDS}


@require_safe
@never_cache
@member_required
def live_status(request, slug=None):
    """Whether an open page's health moved since it was drawn: `?state=` is the page state
    it was drawn from (live_status_of). Unchanged: 204, from the cache, for the signed-in
    user alone. Changed: its new state and the health to swap in (portal.live), as the
    reader may see it, cached like the pages."""
    state = page_state().cache_key
    if request.GET.get("state") == state:
        return HttpResponse(status=204)
    if slug is None:
        body = cached_json(
            "live-home",
            request.user,
            lambda reader, limits, scan: live.home_live_json(
                reader=reader, limits=limits, scan=scan
            ),
        )
    else:
        body = cached_json(
            f"live-category:{slug}",
            request.user,
            lambda reader, _limits, scan: live.category_live_json(
                slug=slug, reader=reader, scan=scan
            ),
        )
    return HttpResponse(
        f'{{"state": {json.dumps(state)}, "health": {body}}}', content_type="application/json"
    )


@require_safe
@member_required
def status_page(request):
    part = status_part(user=request.user)
    return render(
        request,
        "portal/page.html",
        {"page": part, "nav_categories": part.nav, "status_page": True},
    )


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
