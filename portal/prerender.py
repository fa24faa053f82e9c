"""Category pages rendered before their readers come back: after each move of the page
state (portal.state_cache), a task renders the pages readers asked for recently
(portal.asked) for the new state, through the same one-render-per-key claims as readers
(portal.pages.cached_once), so that the first reader after a scan finds the page ready,
or waits for the render already under way rather than starting one. It also has the
status page's days before today summed in the time zones those readers use.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.utils import timezone, translation

from .asked import AskedPage, pages_asked, prerender_started
from .pages import PageState, cached_status_history, page_state, reader_category_part
from .visibility import Reader

# A state that moves while its pages are rendered (a writer committed just as the
# render started) is rendered once more, not again and again.
PASSES = 2


def pages_prerender() -> dict:
    """Render the pages readers asked for recently, as they will ask for them, for the
    page state now; stop as soon as the state moves on (the next scan has a render of
    its own). Pages already in the cache cost a look-up each: safe to run twice.
    Returns what it did: the state rendered for, `pages` rendered (or found ready),
    `superseded` when a newer state cut it short, and unless it did, the time zones the
    status page's past days were summed in (`status_days`)."""
    prerender_started()
    summary: dict = {"state": None, "pages": 0, "superseded": False}
    for _ in range(PASSES):
        state = page_state()
        summary = {"state": state.cache_key, "pages": 0, "superseded": False}
        asked = pages_asked()
        for page in asked:
            if page_state().cache_key != state.cache_key:
                summary["superseded"] = True
                break
            summary["pages"] += _render(page, state)
        if page_state().cache_key == state.cache_key:
            summary["status_days"] = _sum_status_days(asked, state)
            break
    return summary


def _sum_status_days(asked: list[AskedPage], state: PageState) -> list[str]:
    """Have the status page's days before today summed (`cached_status_history`) in each
    time zone readers asked in, and the portal's own: on the first scan after midnight
    there, or after a check moved to another item, so that the status page's first
    reader does not wait for three months of rollups. A look-up a zone when they are
    summed already. Returns the zones."""
    zones = sorted({settings.TIME_ZONE, *(page.time_zone for page in asked)})
    for zone in zones:
        with timezone.override(zone):
            cached_status_history(today=timezone.localdate(), revision=state.revision)
    return zones


def _render(page, state: PageState) -> int:
    """Render one asked page for `state`; 0 when it is no longer there for its reader (a
    category deleted or limited since)."""
    # The groups of the reader that the catalog's limits name now: a limit added since
    # the page was asked for may name a group of theirs not recorded, which makes a page
    # for a kind of reader that may never ask, never a page shown to the wrong one.
    reader = Reader(staff=page.staff, groups=frozenset(page.groups) & state.limits.paths)
    with translation.override(page.language), timezone.override(page.time_zone):
        try:
            reader_category_part(slug=page.slug, reader=reader, state=state)
        except Http404:
            return 0
    return 1
