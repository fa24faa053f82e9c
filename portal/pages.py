"""Catalog pages (a category's overview, the home page) through Django's cache.

The catalog part of a page is the same for every reader of one language, time zone and
visibility class (staff; or members in the same groups that limits name, portal.visibility)
until the catalog changes, a scan finishes or an incident changes (its banner heads the
page), so it is rendered once and cached under a key naming all of those; each request
wraps it in the base template with the reader's own top bar. A page view costs the
signed-in user and one query (`page_state`) when its part is cached, and one more for a
member's groups when some item of the catalog is limited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import Subquery
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from .health import ScanInfo, latest_scan_info
from .models import NO_REVISION, CatalogRevision, Incident, Revision, Scan
from .selectors import (
    category_overview,
    home_categories,
    open_incidents,
    status_history,
    status_report,
)
from .visibility import Limits, Reader, catalog_limits, reader_for

PAGE_CACHE_SECONDS = 60 * 60
# Where a cached staff page's forms (a checklist step's "Run now") take the reader's CSRF
# token: a token rendered into the cache would be another session's.
CSRF_SLOT = "__csrf_token_slot__"


@dataclass(frozen=True)
class CatalogPart:
    """What a catalog page shows beyond the base template: its title, the categories the
    top bar links, and its body (HTML our templates rendered)."""

    title: str
    nav: list[tuple[str, str]]  # (slug, name) of every category
    body: str


class PageState(NamedTuple):
    """What every cached page depends on: the catalog revision, the latest finished scan
    (with its staleness now) and when an incident last changed."""

    revision: Revision
    scan: ScanInfo | None
    incidents_changed: datetime | None

    @property
    def cache_key(self) -> str:
        incidents = self.incidents_changed.timestamp() if self.incidents_changed else "none"
        scan = self.scan.cache_key if self.scan else "noscan"
        return f"{self.revision.cache_key}:{scan}:incidents{incidents}"


def page_state() -> PageState:
    """What every cached page depends on, in one query."""

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
        return PageState(NO_REVISION, latest_scan_info(), None)
    scan = ScanInfo.of(state["scan_id"], state["scan_finished_at"]) if state["scan_id"] else None
    revision = Revision(state["number"], state["changed_at"])
    return PageState(revision, scan, state["incidents_changed"])


def page_reader(user) -> tuple[Reader, Limits, PageState]:
    """Who `user` is to the catalog, the catalog's limits, and what `page_state` says: the
    limits come from the cache by revision (one query the first time after a change)."""
    state = page_state()
    limits = cache.get_or_set(
        f"portal:limits:{state.revision.cache_key}", catalog_limits, PAGE_CACHE_SECONDS
    )
    return reader_for(user, paths=limits.paths), limits, state


def category_part(*, slug: str, user) -> CatalogPart:
    """A category's overview as `user` may see it: from the cache, or rendered in nine
    queries. Http404 for a category they may not see, as for one that does not exist."""
    reader, _limits, state = page_reader(user)
    key = _key("category", slug, reader.visibility_class, state)
    part = cache.get(key)
    if part is None:
        overview = category_overview(slug=slug, reader=reader, scan=state.scan)
        incidents = open_incidents(reader=reader, category=overview.category)
        part = CatalogPart(
            title=overview.category.title,
            nav=[(category.slug, category.name) for category in overview.categories],
            body=incident_banner(incidents)
            + render_to_string(
                "portal/_category_body.html",
                {"overview": overview, "staff": reader.staff, "csrf_slot": CSRF_SLOT},
            ),
        )
        cache.set(key, part, PAGE_CACHE_SECONDS)
    return part


def with_csrf_token(part: CatalogPart, request) -> CatalogPart:
    """The part with the reader's CSRF token in its forms."""
    return replace(part, body=part.body.replace(CSRF_SLOT, get_token(request)))


def home_part(*, user) -> CatalogPart:
    """The categories `user` may see with their counts and health, and the open incidents
    they may see: from the cache, or in four queries."""
    reader, limits, state = page_reader(user)
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
                {"categories": categories, "staff": reader.staff, "withheld": withheld},
            ),
        )
        cache.set(key, part, PAGE_CACHE_SECONDS)
    return part


def status_part(*, user) -> CatalogPart:
    """The status page as `user` may see it: from the cache, or rendered in eight queries
    (three more when the days before today are not cached).
    Keyed by the day too, since its bars end today; the hourly rollups move on with the
    scans. Its days before today (`cached_status_history`) outlive the scans, so a new scan
    re-renders only the statuses and today's bar."""
    reader, _limits, state = page_reader(user)
    today = timezone.localdate()
    key = _key("status", today.isoformat(), reader.visibility_class, state)
    part = cache.get(key)
    if part is None:
        history = cached_status_history(today=today, revision=state.revision)
        report = status_report(reader=reader, today=today, scan=state.scan, history=history)
        part = CatalogPart(
            title=gettext("Status"),
            nav=report.nav,
            body=render_to_string("portal/_status_body.html", {"report": report}),
        )
        cache.set(key, part, PAGE_CACHE_SECONDS)
    return part


def cached_json(what: str, user, build: Callable[[Reader, Limits, ScanInfo | None], str]) -> str:
    """The JSON of an API answer as `user` may see it, cached like the pages (by what it
    is, the reader's visibility class, the language, the catalog revision and the latest
    scan): `build` makes it once per key, from the reader, the limits and the scan."""
    reader, limits, state = page_reader(user)
    key = _key("api", what, reader.visibility_class, state)
    body = cache.get(key)
    if body is None:
        body = build(reader, limits, state.scan)
        cache.set(key, body, PAGE_CACHE_SECONDS)
    return body

def cached_status_history(*, today, revision: Revision):
    """Every item's bars and SLO results before `today` (selectors.status_history), from
    the cache: the same for every reader (the page picks the items each may see), until
    the day or the catalog (an SLO's window) changes. Keyed by the language and time zone
    too: the bars' tooltips are translated, and the day's bounds are local."""
    key = ":".join(
        [
            "portal:status-history",
            today.isoformat(),
            translation.get_language(),
            timezone.get_current_timezone_name(),
            revision.cache_key,
        ]
    )
    return cache.get_or_set(key, lambda: status_history(today=today), PAGE_CACHE_SECONDS)


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
