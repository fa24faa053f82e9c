"""Catalog pages (a category's overview, the home page) through Django's cache.

The catalog part of a page is the same for every reader of one language, time zone and
visibility class (staff; or members in the same groups that limits name, portal.visibility)
until the catalog changes, a scan finishes or an incident changes (its banner heads the
page), so it is rendered once and cached under a key naming all of those; each request
wraps it in the base template with the reader's own top bar (`page_response`). A large
category's page is itself made of cached layers, so that a scan renders only its health
(`category_page`); and one reader at a time renders any of them (`cached_once`). A page
view costs the signed-in user alone when its part is cached (the page state is cached
too, and forgotten by its writers: portal.state_cache), and one more query for a member's
groups when some item of the catalog is limited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache, caches
from django.core.cache.utils import make_template_fragment_key
from django.db.models import Subquery
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from . import rollups, slots
from .asked import page_asked
from .health import ScanInfo
from .models import NO_REVISION, CatalogRevision, Incident, Revision, Scan
from .page_copies import page_copies
from .selectors import (
    CategoryHealthOverview,
    CategoryOverview,
    HealthCatalog,
    category_health_overview,
    category_overview,
    health_catalog,
    home_categories,
    hours_counts,
    open_incidents,
    status_history,
    status_history_layout,
    status_listing,
    status_now,
)
from .state_cache import PAGE_STATE_KEY, PAGE_STATE_SECONDS
from .status import STATUS_DAYS, Counts, StatusFrame, StatusHistory
from .visibility import Limits, Reader, catalog_limits, reader_for

PAGE_CACHE_SECONDS = 60 * 60
# A category page and its items' health are kept this many scan intervals
# (`scan_part_seconds`).
SCAN_PART_INTERVALS = 3
# One render at a time per page (`cached_once`): how long a renderer holds its claim (it
# lapses should that process die), how long other readers wait for its result, how often
# they look.
RENDER_CLAIM_SECONDS = 30
RENDER_WAIT_SECONDS = 10
RENDER_POLL_SECONDS = 0.05
# Where the home page takes the reader's own pinned tools (portal/pins.py), which no
# other reader shares: between its heading and the categories.
PINNED_SLOT = "<!-- pinned tools -->"

# Where portal/page.html takes a part's body (`page_response`).
BODY_SLOT = slots.slot("body")

T = TypeVar("T")


@dataclass(frozen=True)
class CatalogPart:
    """What a catalog page shows beyond the base template: its title, the categories the
    top bar links, and its body (HTML our templates rendered). A category's body, large
    with a large catalog, is kept in UTF-8, as it is cached and sent (`page_response`)."""

    title: str
    nav: list[tuple[str, str]]  # (slug, name) of every category
    body: str | bytes


class PageState(NamedTuple):
    """What every cached page depends on: the catalog revision, the latest finished scan
    (with its staleness now) and when an incident last changed; and the catalog's limits
    at that revision, which every page needs to know its reader."""

    revision: Revision
    scan: ScanInfo | None
    incidents_changed: datetime | None
    limits: Limits

    @property
    def cache_key(self) -> str:
        incidents = self.incidents_changed.timestamp() if self.incidents_changed else "none"
        scan = self.scan.cache_key if self.scan else "noscan"
        return f"{self.revision.cache_key}:{scan}:incidents{incidents}"


def page_state(*, read: dict | None = None) -> PageState:
    """What every cached page depends on: from the cache (portal.state_cache; or from
    `read`, what the caller read from it with `cache.get_many`, PAGE_STATE_KEY among the
    keys), or in one query, and the limits from the cache by revision (one query the first
    time after a change). The scan's staleness is decided now, from its finish time, never
    cached."""
    stored = cache.get(PAGE_STATE_KEY) if read is None else read.get(PAGE_STATE_KEY)
    if stored is None:
        revision, scan, incidents_changed = _stored_page_state()
        limits = cache.get_or_set(
            f"portal:limits:{revision.cache_key}", catalog_limits, PAGE_CACHE_SECONDS
        )
        stored = (revision, scan, incidents_changed, limits)
        cache.set(PAGE_STATE_KEY, stored, PAGE_STATE_SECONDS)
    revision, scan, incidents_changed, limits = stored
    return PageState(revision, ScanInfo.of(*scan) if scan else None, incidents_changed, limits)


def _stored_page_state() -> tuple[Revision, tuple[int, datetime] | None, datetime | None]:
    """The revision, the latest finished scan (id, finish time) and the last incident
    change, in one query."""

    def latest_scan(column):
        return Subquery(Scan.objects.finished_latest_first().values(column)[:1])

    state = (
        CatalogRevision.objects.filter(pk=CatalogRevision.SINGLETON_ID)
        .annotate(
            scan_id=latest_scan("pk"),
            scan_finished_at=latest_scan("finished_at"),
            incidents_changed=Subquery(Incident.objects.last_change()),
        )
        .values("number", "changed_at", "scan_id", "scan_finished_at", "incidents_changed")
        .first()
    )
    if state is None:  # no catalog write yet, so no revision row (nor incidents)
        scan = Scan.objects.finished_latest_first().values_list("pk", "finished_at").first()
        return NO_REVISION, tuple(scan) if scan else None, None
    scan = (state["scan_id"], state["scan_finished_at"]) if state["scan_id"] else None
    revision = Revision(state["number"], state["changed_at"])
    return revision, scan, state["incidents_changed"]


def page_reader(user, state: PageState | None = None) -> tuple[Reader, Limits, PageState]:
    """Who `user` is to the catalog, the catalog's limits, and what `page_state` says (or
    `state`, when the caller has read it already)."""
    if state is None:
        state = page_state()
    return reader_for(user, paths=state.limits.paths), state.limits, state


def category_part(*, slug: str, user, state: PageState | None = None) -> CatalogPart:
    """A category's overview as `user` may see it: from this process's copy, the shared
    cache, or rendered in nine queries. Http404 for a category they may not see, as for
    one that does not exist. After a scan only its health is rendered again
    (`category_page`); pages readers asked for lately are rendered ahead of them
    (portal.asked, portal.prerender)."""
    reader, _limits, state = page_reader(user, state)
    key = _category_key(slug, reader, state)
    # This process's own copy first (portal/page_copies.py): a large category's page
    # would otherwise come from the shared cache whole on every view.
    part = page_copies.get(key)
    if part is None:
        part = reader_category_part(slug=slug, reader=reader, state=state)
        page_copies.set(key, part)
    page_asked(slug=slug, reader=reader)
    return part


def reader_category_part(*, slug: str, reader: Reader, state: PageState) -> CatalogPart:
    """A category's overview as `reader` may see it (`category_part`); also how
    portal.prerender renders pages ahead of their readers."""
    return cached_once(
        _category_key(slug, reader, state),
        lambda: category_page(slug=slug, reader=reader, state=state),
        timeout=scan_part_seconds(),
    )


def _category_key(slug: str, reader: Reader, state: PageState) -> str:
    return _key("category", slug, reader.visibility_class, state)


def category_page(*, slug: str, reader: Reader, state: PageState) -> CatalogPart:
    """A category's overview for `reader`: its catalog part, with a slot for each piece of
    health (portal/slots.py), rendered once per catalog revision, language and visibility
    class whatever the scans; its items' health, rendered once per scan for all time
    zones; and what this scan shows in the reader's zone, spliced into it. With the catalog
    part cached (after a scan, in another zone) only the health is read
    (`category_health_overview`), not the whole catalog again."""
    language = translation.get_language()
    catalog_key = ":".join(
        [
            "portal:category-catalog",
            slug,
            reader.visibility_class,
            language,
            state.revision.cache_key,
        ]
    )
    # This process's own copy first, as for whole pages (`category_part`): the catalog
    # part of a large category is megabytes too, the same under its key until the catalog
    # changes, and every scan needs it again; kept split at its slots, as every scan
    # splices it.
    catalog = page_copies.get(catalog_key)
    overview: CategoryOverview | CategoryHealthOverview | None = None
    if catalog is None:
        part = cache.get(catalog_key)
        if part is None:
            overview = category_overview(slug=slug, reader=reader, scan=state.scan)
            part = cached_once(catalog_key, lambda: category_catalog(overview, staff=reader.staff))
        catalog = SplitCatalog(replace(part, body=b""), slots.split(part.body))
        page_copies.set(catalog_key, catalog)
    if overview is None:  # the catalog part was cached: only the health is read
        overview = category_health_overview(
            catalog=cached_health_catalog(slug=slug, reader=reader, revision=state.revision),
            reader=reader,
            scan=state.scan,
        )
    context = {"overview": overview, "staff": reader.staff}

    def rendered(template: str) -> Callable[[], bytes]:
        return lambda: render_to_string(template, context).encode()

    health = cached_once(
        ":".join(
            ["portal:category-health", slug, reader.visibility_class, language, state.cache_key]
        ),
        rendered("portal/_category_health.html"),
        timeout=scan_part_seconds(),
    )
    times = rendered("portal/_category_times.html")()
    banner = incident_banner(open_incidents(reader=reader, category=overview.category))
    body = slots.fill(
        catalog.pieces,
        {**slots.fragments(health), **slots.fragments(times)},
        before=banner.encode(),
    )
    return replace(catalog.part, body=body)


def cached_health_catalog(*, slug: str, reader: Reader, revision: Revision) -> HealthCatalog:
    """What of a category's catalog its health reads (selectors.health_catalog), as
    `reader` may see it: from the cache, or in five queries. Keyed by the catalog revision
    and the reader's visibility class, as the catalog part: every scan reads it again, and
    only a catalog change changes it."""
    key = ":".join(["portal:health-catalog", slug, reader.visibility_class, revision.cache_key])
    return cache.get_or_set(
        key, lambda: health_catalog(slug=slug, reader=reader), PAGE_CACHE_SECONDS
    )


class SplitCatalog(NamedTuple):
    """A category's catalog part as a process keeps it (`category_page`): its title and
    links, and its body split at its slots (portal/slots.py)."""

    part: CatalogPart  # without its body
    pieces: list[bytes]


def category_catalog(overview: CategoryOverview, *, staff: bool) -> CatalogPart:
    """What a category's page shows that only a catalog change changes: times appear only
    in its health, so it is the same in every time zone."""
    return CatalogPart(
        title=overview.category.title,
        nav=[(category.slug, category.name) for category in overview.categories],
        body=render_to_string(
            "portal/_category_body.html",
            {"overview": overview, "staff": staff},
        ).encode(),
    )


def page_response(request, part: CatalogPart, **context) -> HttpResponse:
    """portal/page.html, the reader's top bar and all, around the part's body. The body
    (megabytes for a large category) goes from the cache into the response as the bytes
    it is stored as: rendered through the template it would be decoded, copied and
    encoded again on every view. Nor is it joined to its frame: the response holds the
    three pieces and the server sends them one after the other, so the page is never
    copied whole; its length is set here, as CommonMiddleware would only by joining
    them. The frame comes from this process's memory (`kind_frame`), or, when the reader
    has messages to see, is rendered for this request."""
    if get_messages(request):
        head, tail = rendered_frame({"page": replace(part, body=BODY_SLOT), **context}, request)
    else:
        head, tail = kind_frame(request, part, context)
    body = part.body.encode() if isinstance(part.body, str) else part.body
    response = HttpResponse(head)
    response.write(body)
    response.write(tail)
    response["Content-Length"] = len(head) + len(body) + len(tail)
    return response


def rendered_frame(context: dict, request=None) -> tuple[bytes, bytes]:
    """portal/page.html with `context` (for `request`, with its context processors, when
    given), before and after the page's body (BODY_SLOT)."""
    head, tail = render_to_string("portal/page.html", context, request).split(BODY_SLOT)
    return head.encode(), tail.encode()


@dataclass(frozen=True)
class _KindOfUser:
    """The signed-in user as a frame shared by their kind of reader shows them: what the
    templates ask of them, their name a slot."""

    is_authenticated: bool
    is_approved: bool
    is_staff: bool

    def get_username(self) -> str:
        return slots.slot("username")


@dataclass(frozen=True)
class _AnyRequest:
    """The request as a frame shared by all requests shows it: its path a slot."""

    def get_full_path(self) -> str:
        return slots.slot("path")


def kind_frame(request, part: CatalogPart, context: dict) -> tuple[bytes, bytes]:
    """What `rendered_frame` makes, rendered once per process for each kind of reader
    (language, the user's standing) and page (its title, links, context) and kept in the
    "fragments" cache, with a slot for each value that is the request's own (its CSRF
    token and path, the user's name, the page state, their pinned slugs), filled in here
    on every view: the same for every reader of a kind, the frame is not worth the
    template engine's time again. Rendered from what a frame may show alone, with no
    request nor context processors: nothing of one reader can be kept for another,
    whatever the templates come to show."""
    user = request.user
    live, pinned = context.get("live"), context.get("pinned_slugs")
    shown = {
        **context,
        "live": live and {**live, "state": slots.slot("live-state")},
        "pinned_slugs": None if pinned is None else [slots.slot("pinned")],
        "LANGUAGE_CODE": translation.get_language(),
        "csrf_token": slots.slot("csrf"),
        "request": _AnyRequest(),
        "user": _KindOfUser(user.is_authenticated, user.is_approved, user.is_staff),
        "page": replace(part, body=BODY_SLOT),
    }
    key = make_template_fragment_key("page-frame", [sorted(shown.items())])
    frames = caches["fragments"]
    frame = frames.get(key)
    if frame is None:
        frame = rendered_frame(shown)
        frames.set(key, frame, None)
    own = {
        b"csrf": get_token(request),
        b"path": request.get_full_path(),
        b"username": user.get_username(),
        b"live-state": live["state"] if live else "",
        b"pinned": " ".join(pinned or ()),
    }
    filled = {name: escape(value).encode() for name, value in own.items()}
    return slots.splice(frame[0], filled), slots.splice(frame[1], filled)


def with_pinned(part: CatalogPart, pinned_html: str) -> CatalogPart:
    """The home part with the reader's pinned tools in their place."""
    return replace(part, body=part.body.replace(PINNED_SLOT, pinned_html, 1))


def home_part(*, user, reading: tuple[Reader, Limits, PageState] | None = None) -> CatalogPart:
    """The categories `user` may see with their counts and health, and the open incidents
    they may see: from the cache, or in four queries. `reading`: what `page_reader(user)`
    said, when the caller has asked already."""
    reader, limits, state = reading or page_reader(user)
    key = _key("home", reader.visibility_class, state)
    part = cache.get(key)
    if part is None:
        categories = home_categories(
            reader=reader, limits=limits, with_health=True, scan=state.scan
        )
        withheld = bool(reader.withheld(limits))
        part = CatalogPart(
            title=gettext("Categories"),
            nav=[(category.slug, category.name) for category in categories],
            body=incident_banner(open_incidents(reader=reader))
            + render_to_string(
                "portal/_home_body.html",
                {
                    "categories": categories,
                    "staff": reader.staff,
                    "withheld": withheld,
                    "pinned_slot": PINNED_SLOT,
                },
            ),
        )
        cache.set(key, part, PAGE_CACHE_SECONDS)
    return part


def status_part(*, user) -> CatalogPart:
    """The status page as `user` may see it: from the cache, or its frame (the categories
    and items they may see, with the days before today: `cached_status_frame`) filled in
    with what the latest scan says, in three queries more than from the cache: the
    checks' statuses, the rollups of the hours scans still add to (`status_today_counts`)
    and the open incidents. Keyed by the day too, since its bars end today."""
    reader, _limits, state = page_reader(user)
    today = timezone.localdate()
    key = _key("status", today.isoformat(), reader.visibility_class, state)
    part = cache.get(key)
    if part is None:
        frame = cached_status_frame(reader=reader, today=today, revision=state.revision)
        now = status_now(
            frame.items,
            today=today,
            today_counts=status_today_counts(today, revision=state.revision),
        )
        part = CatalogPart(
            title=gettext("Status"),
            nav=list(frame.nav),
            body=render_to_string(
                "portal/_status_body.html",
                {
                    "scan": state.scan,
                    "incidents": open_incidents(reader=reader),
                    "today": today,
                    "days": STATUS_DAYS,
                    "items": frame.filled([now[item.key] for item in frame.items]),
                    "empty": not frame.items,
                },
            ),
        )
        cache.set(key, part, PAGE_CACHE_SECONDS)
    return part


def cached_status_frame(*, reader: Reader, today, revision: Revision) -> StatusFrame:
    """The status page's list of categories and items as `reader` may see them, with
    their days before today, rendered for the day by one reader at a time: from the
    cache, or in three queries, and after a catalog write three more for what the days
    are drawn from and three more should that have changed (`cached_status_history`).
    Keyed by the day, the catalog revision, the reader's visibility class, language and
    time zone."""
    key = ":".join(
        [
            "portal:status-frame",
            today.isoformat(),
            reader.visibility_class,
            translation.get_language(),
            timezone.get_current_timezone_name(),
            revision.cache_key,
        ]
    )

    def frame() -> StatusFrame:
        history = cached_status_history(today=today, revision=revision)
        categories = status_listing(reader=reader, history=history)
        return StatusFrame.render(
            [category for category in categories if category.items],
            nav=[(category.slug, category.name) for category in categories],
            history=history,
            render=lambda shown: render_to_string(
                "portal/_status_items.html", {"categories": shown, "days": STATUS_DAYS}
            ),
        )

    return cached_once(key, frame)


def cached_json(what: str, user, build: Callable[[Reader, Limits, ScanInfo | None], str]) -> str:
    """The JSON of an API answer as `user` may see it, cached like the pages (by what it
    is, the reader's visibility class, the language, the catalog revision and the latest
    scan): `build` makes it once per key, from the reader, the limits and the scan."""
    reader, limits, state = page_reader(user)
    key = _key("api", what, reader.visibility_class, state)
    return cached_once(key, lambda: build(reader, limits, state.scan))


def scan_part_seconds() -> int:
    """How long the cache keeps a part that the next scan replaces: a few scan intervals,
    not the hour a catalog part is kept, since no one reads it after the next scan and a
    large category's parts of each scan add up to more memory than the cache may have."""
    return SCAN_PART_INTERVALS * settings.HEALTH_SCAN_INTERVAL


def cached_once(key: str, build: Callable[[], T], *, timeout: int = PAGE_CACHE_SECONDS) -> T:
    """What the cache holds under `key`, or what `build` makes, cached for `timeout`
    seconds: one build at a time per key. The first reader to miss claims the key for
    RENDER_CLAIM_SECONDS and builds; others who miss meanwhile wait for its result up to
    RENDER_WAIT_SECONDS (a large category's page is slow to render, and readers arriving
    together after each scan would each render it again), then build it themselves
    should it still be missing, or sooner if that render failed."""
    value = cache.get(key)
    if value is not None:
        return value
    claim = f"{key}:building"
    claimed = cache.add(claim, True, RENDER_CLAIM_SECONDS)
    if not claimed:
        waited_until = time.monotonic() + RENDER_WAIT_SECONDS
        while time.monotonic() < waited_until:
            time.sleep(RENDER_POLL_SECONDS)
            # The claim first: a renderer stores its result before it lets go, so a claim
            # gone with no result means that render failed, and waiting longer is pointless.
            building = cache.get(claim) is not None
            value = cache.get(key)
            if value is not None:
                return value
            if not building:
                break
    try:
        value = build()
        cache.set(key, value, timeout)
    finally:
        if claimed:
            cache.delete(claim)
    return value


def status_today_counts(
    today, *, revision: Revision, now: datetime | None = None
) -> dict[tuple[str, int], Counts]:
    """Each item's results today: those of today's hours before the last two, from the
    cache (they no longer change, unless a check moves to another item: keyed as
    `cached_status_history`), plus those of the last two hours, read at each scan (a
    scan adds to the hour its probes started in, so one finishing just after the hour
    turns may still add to the one before). In one query, two once an hour."""
    day = rollups.day_start(today)
    live = max(day, rollups.hour_of(now or timezone.now()) - timedelta(hours=1))
    key = ":".join(
        [
            "portal:status-today",
            today.isoformat(),
            timezone.get_current_timezone_name(),
            live.isoformat(),
            status_layout(revision),
        ]
    )

    def closed_hours():
        return hours_counts(since=day, until=live) if live > day else {}

    counts = dict(cache.get_or_set(key, closed_hours, PAGE_CACHE_SECONDS))
    for item, (total, down) in hours_counts(since=live, until=day + timedelta(days=1)).items():
        closed_total, closed_down = counts.get(item, (0, 0))
        counts[item] = (closed_total + total, closed_down + down)
    return counts


def cached_status_history(*, today, revision: Revision) -> StatusHistory:
    """Every item's bars and SLO results before `today` (selectors.status_history), from
    the cache, built by one reader at a time: the same for every reader (the page picks
    the items each may see), until the day changes or a catalog write changes what it is
    drawn from (`status_history_layout`: which item a check counts for, an SLO's window).
    Other catalog writes keep it: it sums every item's rollups of three months, which a
    renamed service does not change. Keyed by the time zone too: the day's bounds are
    local. Nothing in it is translated."""
    key = ":".join(
        [
            "portal:status-history",
            today.isoformat(),
            timezone.get_current_timezone_name(),
            status_layout(revision),
        ]
    )
    return cached_once(key, lambda: status_history(today=today))


def status_layout(revision: Revision) -> str:
    """`status_history_layout` of the catalog at `revision`, from the cache."""
    key = f"portal:status-layout:{revision.cache_key}"
    return cache.get_or_set(key, status_history_layout, PAGE_CACHE_SECONDS)


def incident_banner(incidents: list[Incident]) -> str:
    """The banner that heads a page while incidents are open; "" when none is."""
    if not incidents:
        return ""
    return render_to_string("portal/_incident_banner.html", {"incidents": incidents})


def _key(*parts) -> str:
    """The cache key of a page part: what it is, plus everything it varies by. The catalog
    revision, the latest finished scan and whether it is stale now (so a new scan, or
    beat falling silent, shows on the next view), when an incident last changed (an
    admin's update moves no scan), the language and the reader's time zone (the scan
    time is shown in both)."""
    *what, state = parts
    return ":".join(
        [
            "portal",
            *what,
            translation.get_language(),
            timezone.get_current_timezone_name(),
            state.cache_key,
        ]
    )
