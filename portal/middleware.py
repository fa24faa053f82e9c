"""Show times in the reader's time zone, as their browser reports it."""

import zoneinfo
from functools import lru_cache

from django.utils import timezone

# Set by a line of script in base.html from Intl.DateTimeFormat().resolvedOptions().
COOKIE = "tz"


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class ReaderTimeZoneMiddleware:
    """Activate the time zone named by the `tz` cookie; unknown names are ignored, so
    the default (settings.TIME_ZONE) applies until the browser has told us."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get(COOKIE, "")
        if name in _known_zones():
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        return self.get_response(request)
