"""Where the page state (portal.pages.page_state) is cached, and how its writers forget it.

Every page view and every live-status poll needs the page state: the catalog revision,
the latest finished scan and when an incident last changed. Read from the database it is
a query per request; it changes only when one of its writers (a catalog write moving the
revision, a scan finishing, an incident opened, updated or resolved) commits, so it is
kept in the cache that all web workers share, and each writer forgets it.
"""

from django.core.cache import cache
from django.db import transaction

from .asked import prerender_after_commit

PAGE_STATE_KEY = "portal:page-state"
# A safety net for writes that bypass the writers (a restored dump, SQL from a shell):
# pages follow them within this many seconds. Staleness ("no scan for three intervals")
# is not cached: it is decided from the scan's finish time on every read.
PAGE_STATE_SECONDS = 10


def page_state_moved() -> None:
    """Forget the cached page state: now, and again once the writer's transaction commits.

    The second time is the one that counts: a reader that loaded the state between now
    and the commit cached the old one. The first keeps this process's next reads right
    inside the writer's own transaction (and in tests, whose transactions never commit).
    The pages readers asked for lately are then rendered for the new state
    (portal.prerender), after the state is forgotten."""
    cache.delete(PAGE_STATE_KEY)
    transaction.on_commit(lambda: cache.delete(PAGE_STATE_KEY))
    prerender_after_commit()
