"""Which category pages readers asked for recently, so that each change of the page state
(a scan finishing, a catalog write, an incident) has them rendered again before the
readers come back (portal.prerender), rather than by the first reader after each scan.

A page is asked for by a kind of reader: a category, a language, a time zone and a
visibility class, which is all a cached page varies by (portal.pages). Only the most
recently asked PRERENDER_PAGES are kept, each for ASKED_SECONDS after it was last asked
for; nothing is kept for a page that was not found or not shown to its reader.

The list is one small cache entry. Serving a page costs nothing in the shared cache while
this process marked it lately (in its own memory, the `local` cache); otherwise one
`cache.add` (a mark, shared, that the page was recorded lately), and only when that mark
is missing is the list read and written again. So a page read all along is recorded again
within twice ASKED_MARK_SECONDS, long before its record lapses. Two processes recording at
once may lose one of the two records: that page is rendered by its reader, as without
this, until the marks lapse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache, caches
from django.utils import timezone, translation

from aixops.outbox import Job, queue_after_commit

ASKED_KEY = "portal:asked"
# A page not asked for in this long is no longer rendered ahead of its readers.
ASKED_SECONDS = 60 * 60
# How often serving one page records it again (its last time asked for).
ASKED_MARK_SECONDS = 5 * 60
# At most this many pages are rendered after each change: a bound on the work every scan
# queues, whatever the number of languages, time zones and groups readers come with.
PRERENDER_PAGES = 20

PRERENDER_TASK = "portal.tasks.prerender_pages"
# Set while a prerender is queued and has not started: the page state moves once per row
# of a catalog write, and one render after them all is enough. Its expiry bounds how long
# a rolled-back write (whose prerender never goes out) keeps others from being queued.
PRERENDER_QUEUED_KEY = "portal:prerender-queued"
PRERENDER_QUEUED_SECONDS = 30


@dataclass(frozen=True)
class AskedPage:
    """A category's page as one kind of reader asked for it. The groups are the reader's
    groups that some limit of the catalog named (never part of a cache key)."""

    slug: str
    language: str
    time_zone: str
    staff: bool
    groups: tuple[str, ...]


def page_asked(*, slug: str, reader) -> None:
    """Record that `reader` (a portal.visibility.Reader: not imported, as the models
    that move the page state import this module) was shown the category `slug` in the
    active language and time zone."""
    language = translation.get_language()
    time_zone = timezone.get_current_timezone_name()
    mark = ":".join([ASKED_KEY, slug, language, time_zone, reader.visibility_class])
    if not caches["local"].add(mark, True, ASKED_MARK_SECONDS):
        return
    if not cache.add(mark, True, ASKED_MARK_SECONDS):
        return
    page = AskedPage(slug, language, time_zone, reader.staff, tuple(sorted(reader.groups)))
    asked = {**_recent(), page: time.time()}
    latest = sorted(asked, key=asked.__getitem__, reverse=True)[:PRERENDER_PAGES]
    cache.set(ASKED_KEY, {page: asked[page] for page in latest}, ASKED_SECONDS)


def pages_asked() -> list[AskedPage]:
    """The pages readers asked for recently, the latest first."""
    asked = _recent()
    return sorted(asked, key=asked.__getitem__, reverse=True)


def _recent() -> dict[AskedPage, float]:
    since = time.time() - ASKED_SECONDS
    return {page: at for page, at in (cache.get(ASKED_KEY) or {}).items() if at >= since}


def prerender_after_commit() -> None:
    """Have the pages readers asked for rendered again once the current transaction
    commits (through the outbox, as all work after a commit), unless nobody asked for
    any or a render is queued already."""
    if cache.get(ASKED_KEY) and cache.add(PRERENDER_QUEUED_KEY, True, PRERENDER_QUEUED_SECONDS):
        queue_after_commit([Job(PRERENDER_TASK, [])])


def prerender_started() -> None:
    """A prerender starts: page state moves from now on queue one of their own."""
    cache.delete(PRERENDER_QUEUED_KEY)
