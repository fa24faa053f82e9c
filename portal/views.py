import json

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.middleware.http import ConditionalGetMiddleware
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.decorators import decorator_from_middleware
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.access import is_member, member_required

from . import live, status
from .models import ChecklistItem, Pin, Service
from .pages import (
    PageState,
    cached_json,
    category_part,
    home_part,
    page_reader,
    page_response,
    page_state,
    status_part,
    with_pinned,
)
from .pins import pinned_tools
from .search import QUERY_MAX_LENGTH, QueryTooLong, reader_and_index, search, visible_categories
from .selectors import item_health, item_uptime, status_item
from .state_cache import PAGE_STATE_KEY
from .visibility import item_visible

# How long a browser or proxy (GitLab's image proxy) may keep a badge before asking again.
BADGE_MAX_AGE = 300


@require_safe
@member_required
def home(request):
    reading = page_reader(request.user)
    part = home_part(user=request.user, reading=reading)
    pinned = pinned_tools(user=request.user, reader=reading[0])
    pinned_html = render_to_string(
        "portal/_pinned.html", {"pinned": pinned.shown, "gone": pinned.gone}, request=request
    )
    part = with_pinned(part, pinned_html)
    live_from = live_status_of(reverse("portal:live-home"), reading[2])
    return page_response(request, part, nav_categories=part.nav, live=live_from)


@require_safe
@member_required
def category_detail(request, slug):
    # The page state and the reader's pinned slugs in one round trip to the cache.
    read = cache.get_many([PAGE_STATE_KEY, Pin.objects.slugs_key(request.user)])
    state = page_state(read=read)
    part = category_part(slug=slug, user=request.user, state=state)
    return page_response(
        request,
        part,
        nav_categories=part.nav,
        current_category=slug,
        # The form its pin and "Run now" buttons post, with this reader's CSRF token:
        # outside the cached part, which every reader of a kind shares.
        page_post=True,
        # Outside the cached part, which every reader of a kind shares: pins.js marks
        # these services' pin buttons.
        pinned_slugs=Pin.objects.slugs_of(request.user, read=read),
        live=live_status_of(reverse("portal:live-category", args=[slug]), state),
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
    return page_response(request, part, nav_categories=part.nav, status_page=True)


@require_safe
@member_required
def search_page(request):
    """What the top bar's search finds, as a page: for readers without scripts, and for
    "all results"."""
    query = request.GET.get("q", "")
    reader, index = reader_and_index(request.user)
    try:
        found = search(query, reader=reader, index=index)
    except QueryTooLong:
        found, status = search("", reader=reader, index=index), 400
    else:
        status = 200
    return render(
        request,
        "portal/search.html",
        {
            "found": found,
            "query": query[:QUERY_MAX_LENGTH],
            "too_long": status == 400,
            "query_max_length": QUERY_MAX_LENGTH,
            "nav_categories": visible_categories(index, reader),
        },
        status=status,
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


def _back(request, fallback: str):
    """Where a pin form sends the reader back: its `next`, if it is one of our pages."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if allowed else fallback)


def _visible_service(request, slug: str) -> Service | None:
    """The service `slug`, if the reader may see it."""
    service = Service.objects.select_related("category").filter(slug=slug).first()
    reader = page_reader(request.user)[0]
    if service is None or not item_visible(service, service.category, reader):
        return None
    return service


def _pinnable(request, slug: str) -> Service:
    """The service `slug`, if the reader may see it; 404 otherwise, as for one that does
    not exist."""
    service = _visible_service(request, slug)
    if service is None:
        raise Http404("No such service.")
    return service


@require_POST
@member_required
def pin_service(request, slug):
    """A service's "Pin" button: last in the reader's pinned tools on their home page."""
    service = _pinnable(request, slug)
    try:
        pinned = Pin.objects.pin(user=request.user, slug=service.slug)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        name = {"name": service.name}
        if pinned:
            messages.success(request, _("%(name)s is pinned to your home page.") % name)
        else:
            messages.info(request, _("%(name)s is pinned already.") % name)
    return _back(request, service.category.get_absolute_url())


@require_POST
@member_required
def unpin_service(request, slug):
    """ "Unpin", on the home page or a service's card; and of a pin the reader no longer
    sees (its service gone from the catalog, hidden or limited away): the pin is theirs,
    and names only what they once pinned. A slug they did not pin, of a service they may
    not see, is a 404 as for one that does not exist, so the answer tells them nothing."""
    service = _visible_service(request, slug)
    if Pin.objects.unpin(user=request.user, slug=slug):
        name = service.name if service is not None else slug
        messages.success(request, _("%(name)s is unpinned.") % {"name": name})
    elif service is None:
        raise Http404("No such service.")
    return _back(request, reverse("portal:home"))


@require_POST
@member_required
def unpin_gone(request):
    """The home page's "Remove" of the pins whose services are no longer in the catalog."""
    removed = Pin.objects.unpin_gone(user=request.user)
    if removed:
        messages.success(
            request,
            ngettext(
                "%(count)d pin of a tool no longer in the catalog is removed.",
                "%(count)d pins of tools no longer in the catalog are removed.",
                removed,
            )
            % {"count": removed},
        )
    return _back(request, reverse("portal:home"))


@require_POST
@member_required
def move_pin(request, slug):
    """A pinned tool's "Move up" (just before `before`) or "Move down" (just after `after`)."""
    before, after = request.POST.get("before", ""), request.POST.get("after", "")
    if bool(before) == bool(after):
        return HttpResponseBadRequest(_("Say where to: before one pinned service or after one."))
    service = _pinnable(request, slug)
    Pin.objects.move(user=request.user, slug=service.slug, before=before[:64], after=after[:64])
    return _back(request, reverse("portal:home"))
