"""Category pages rendered before their readers come back: after each move of the page
state (portal.state_cache), a task renders the pages readers asked for recently
(portal.asked) for the new state, through the same one-render-per-key claims as readers
(portal.pages.cached_once), so that the first reader after a scan finds the page ready,
or waits for the render already under way rather than starting one.
"""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone, translation

from .asked import pages_asked, prerender_started
from .pages import PageState, page_state, reader_category_part
from .visibility import Reader

# A state that moves while its pages are rendered (a writer committed just as the
# render started) is rendered once more, not again and again.
PASSES = 2


def pages_prerender() -> dict:
    """Render the pages readers asked for recently, as they will ask for them, for the
    page state now; stop as soon as the state moves on (the next scan has a render of
    its own). Pages already in the cache cost a look-up each: safe to run twice.
    Returns what it did: the state rendered for, `pages` rendered (or found ready),
    `superseded` when a newer state cut it short."""
    prerender_started()
    summary: dict = {"state": None, "pages": 0, "superseded": False}
    for _ in range(PASSES):
        state = page_state()
        summary = {"state": state.cache_key, "pages": 0, "superseded": False}
        for page in pages_asked():
            if page_state().cache_key != state.cache_key:
                summary["superseded"] = True
                break
            summary["pages"] += _render(page, state)
        if page_state().cache_key == state.cache_key:
            break
    return summary


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
