"""Catalog pages rendered once per catalog revision, scan and language, then cached."""

from dataclasses import dataclass

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from .health import latest_scan_info
from .models import CatalogRevision
from .selectors import category_overview

PAGE_CACHE_SECONDS = 60 * 60


@dataclass(frozen=True)
class CategoryPage:
    """The parts of a category page that do not depend on who reads it."""

    title: str
    nav: SafeString
    body: SafeString


def category_page(*, slug: str, show_hidden: bool) -> CategoryPage:
    """The overview's title, navigation and body: three queries when cached, nine when not.

    The key holds everything the fragments vary by: the catalog revision, the latest
    finished scan and whether it is stale now (so a new scan, or beat falling silent,
    shows on the next view), the language and the reader's time zone (the scan time
    is shown in both). The user's own parts (CSRF tokens, name, language switch) stay
    outside, in the base template.
    """
    scan = latest_scan_info()
    key = ":".join(
        [
            "portal",
            "category",
            slug,
            "staff" if show_hidden else "member",
            get_language(),
            timezone.get_current_timezone_name(),
            str(CatalogRevision.current()),
            scan.cache_key if scan else "noscan",
        ]
    )
    parts = cache.get(key)
    if parts is None:
        overview = category_overview(slug=slug, show_hidden=show_hidden, scan=scan)
        parts = (
            overview.category.title,
            render_to_string(
                "portal/_category_nav.html",
                {"categories": overview.categories, "current": overview.category.slug},
            ),
            render_to_string("portal/_category_body.html", {"overview": overview}),
        )
        cache.set(key, parts, PAGE_CACHE_SECONDS)
    title, nav, body = parts
    return CategoryPage(title=title, nav=mark_safe(nav), body=mark_safe(body))  # noqa: S308
