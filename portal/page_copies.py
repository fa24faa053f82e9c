"""This web process's own copies of the largest parts of pages it served: a category's
page and its catalog layer (portal.pages), megabytes each for a category of thousands of
items.

A shared cache (Redis) would send such a part whole on every view, and any Django cache
backend, local memory too, pickles what it keeps, so that every read copies it again: kept
here as the objects they are, a view reads them for nothing. Parts are immutable under
their keys (which name the catalog revision, the scan and the reader's kind), so no copy
is ever stale; `settings.PAGE_COPIES` are kept, the least recently read go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings


class PageCopies:
    """At most `settings.PAGE_COPIES` values by key, the least recently read dropped
    first; none when it is 0."""

    def __init__(self) -> None:
        self._values: OrderedDict[str, Any] = OrderedDict()
        # gthread workers serve requests in threads of one process.
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def set(self, key: str, value: Any) -> None:
        kept = settings.PAGE_COPIES
        with self._lock:
            if not kept:
                return
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > kept:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


page_copies = PageCopies()
