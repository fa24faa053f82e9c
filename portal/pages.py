"""Catalog pages rendered once per catalog revision, scan and language, then cached."""

import re
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import cache
from django.db.models import Subquery
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.autoreload import file_changed
from django.utils.cache import patch_vary_headers
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from aixops.compression import GzipFrame, accepts_gzip
from aixops.queries import PreparedLookup

from . import shell
from .health import ScanInfo, latest_scan_info
from .models import NO_REVISION, CatalogRevision, Category, Revision, Scan
from .selectors import category_overview, home_categories

PAGE_CACHE_SECONDS = 60 * 60
# Pages a process keeps at hand: categories x (member, staff) x languages x time zones
# being read right now. A revision or a scan makes new keys; old ones age out.
RECENT_PAGES = 64

# Indentation and blank lines between tags: a seventh of a large overview, and invisible.
_LAYOUT_WHITESPACE = re.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class Page:
    """A catalog page in one language, whole but for the reader's top bar: UTF-8 bytes
    before and after it, as they are and gzipped around it."""

    nav: SafeString  # the category navigation, which the top bar shows
    before_header: bytes
    after_header: bytes
    gzipped: GzipFrame


def category_page(*, slug: str, show_hidden: bool) -> Page:
    """A category's overview: one query when cached, seven when not."""
    revision, scan = page_state()
    key = _key("category", slug, "staff" if show_hidden else "member", revision, scan)
    return _cached_page(key, _render_category, slug, show_hidden, scan)


def home_page() -> Page:
    """The categories with their counts and health: one query when cached, three when not."""
    revision, scan = page_state()
    return _cached_page(_key("home", revision, scan), _render_home, scan)


def _key(*parts) -> str:
    """The cache key of a page: what it is, plus everything it varies by. The catalog
    revision, the latest finished scan and whether it is stale now (so a new scan, or
    beat falling silent, shows on the next view), the language and the reader's time
    zone (the scan time is shown in both). The reader's own parts (CSRF token, name,
    language switch) stay outside, in the top bar (portal/shell.py)."""
    *what, revision, scan = parts
    return ":".join(
        [
            "portal",
            *what,
            translation.get_language(),
            timezone.get_current_timezone_name(),
            revision.cache_key,
            scan.cache_key if scan else "noscan",
        ]
    )


def _latest_scan_column(name):
    return Subquery(Scan.objects.finished_latest_first().values(name)[:1])


# What every cached page depends on, in one query (see PreparedLookup): one round trip
# fewer on every view. Under load on PostgreSQL, a cached view spent most of its time
# waiting on round trips (py-spy on bench/load.py).
_page_state = PreparedLookup(
    lambda: CatalogRevision.objects.filter(pk=CatalogRevision.SINGLETON_ID).annotate(
        scan_id=_latest_scan_column("pk"), scan_finished_at=_latest_scan_column("finished_at")
    )
)


def page_state() -> tuple[Revision, ScanInfo | None]:
    """The catalog revision and the latest finished scan (with its staleness now)."""
    state = _page_state.first(using=CatalogRevision.objects.db)
    if state is None:  # no catalog write yet, so no revision row
        return NO_REVISION, latest_scan_info()
    scan = ScanInfo.of(state.scan_id, state.scan_finished_at) if state.scan_id else None
    return Revision(state.number, state.changed_at), scan


@lru_cache(maxsize=RECENT_PAGES)
def _cached_page(key: str, render, *args) -> Page:
    """The page under `key`: from this process's recent pages, else made from the parts in
    the shared cache, else from `render(*args)`. The key names everything the page depends
    on, so an entry is never stale; the process keeps its own copy because fetching a
    large page from the shared cache cost more than everything else the view does."""
    parts = cache.get(key)
    if parts is None:
        title, nav, body = render(*args)
        parts = (title, nav, _LAYOUT_WHITESPACE.sub("\n", body).encode())
        cache.set(key, parts, PAGE_CACHE_SECONDS)
    return _assemble(*parts)


def _assemble(title: str, nav: str, body: bytes) -> Page:
    """The language's frame around the title and the body, cut where the top bar goes."""
    frame = _frame(translation.get_language())
    # A marker's name sits at an odd place, so both halves keep text at even ones.
    header_at = frame.index("header")
    before = shell.fill(frame[:header_at], {"title": escape(title)}).encode()
    after = shell.fill(frame[header_at + 1 :], {"body": body.decode()}).encode()
    return Page(
        nav=mark_safe(nav),  # noqa: S308 - rendered by _nav
        before_header=before,
        after_header=after,
        gzipped=GzipFrame.around(before, after),
    )


def _render_category(slug: str, show_hidden: bool, scan: ScanInfo | None):
    overview = category_overview(slug=slug, show_hidden=show_hidden, scan=scan)
    return (
        overview.category.title,
        _nav(overview.categories, current=overview.category.slug),
        render_to_string("portal/_category_body.html", {"overview": overview}),
    )


def _render_home(scan: ScanInfo | None):
    categories = home_categories(with_health=True, scan=scan)
    return (
        gettext("Categories"),
        _nav(categories, current=None),
        render_to_string("portal/_home_body.html", {"categories": categories}),
    )


def category_nav() -> SafeString:
    """The top bar's category links for a page that is not a cached catalog page: one
    query (the categories' slugs and names)."""
    categories = Category.objects.only("slug", "name")
    return mark_safe(_nav(categories, current=None))  # noqa: S308 - rendered by _nav


def _nav(categories, *, current: str | None) -> str:
    return render_to_string(
        "portal/_category_nav.html", {"categories": categories, "current": current}
    )


@lru_cache(maxsize=16)
def _frame(language: str) -> tuple[str, ...]:
    """A catalog page around its parts, for one language, cut at the parts' markers
    (shell.pieces)."""
    with translation.override(language):
        rendered = render_to_string(
            "portal/page.html",
            {
                "LANGUAGE_CODE": language,
                "page": {name: shell.marker(name) for name in ("title", "header", "body")},
            },
        )
    return shell.pieces(rendered)


def render_page(request, page: Page) -> HttpResponse:
    """The page with the reader's top bar in its place; gzipped if the client takes it."""
    header = shell.page_header(request, page.nav).encode()
    if accepts_gzip(request):
        response = HttpResponse(page.gzipped.fill(header))
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(b"".join((page.before_header, header, page.after_header)))
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


def forget_recent_pages() -> None:
    """Drop this process's copies (the shared cache keeps its own); for tests."""
    _cached_page.cache_clear()


@file_changed.connect
def _forget_rendered_pages(sender, file_path, **kwargs):
    # runserver reloads edited templates without a restart; so must the pages.
    _frame.cache_clear()
    _cached_page.cache_clear()
