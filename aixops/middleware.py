"""Show times in the reader's time zone, as their browser reports it."""

import zoneinfo
from datetime import datetime
from functools import lru_cache
from urllib.parse import unquote

from django.conf import settings
from django.utils import timezone

# Written by aixops/static/aixops/aixops.js from Intl.DateTimeFormat().resolvedOptions(),
# URL-encoded as a cookie value must be: America/New_York arrives as America%2FNew_York.
COOKIE = "tz"


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def reader_zone(cookie: str) -> zoneinfo.ZoneInfo | None:
    """The zone a `tz` cookie names, or None when it names none this machine knows."""
    name = unquote(cookie)
    return zoneinfo.ZoneInfo(name) if name in _known_zones() else None


def zone_abbreviation(moment: datetime) -> str:
    """The active zone's abbreviation at `moment` (`EST`, `CEST`), to show beside a time;
    empty in the portal's own zone (settings.TIME_ZONE), which its readers assume."""
    if timezone.get_current_timezone_name() == settings.TIME_ZONE:
        return ""
    return timezone.localtime(moment).tzname() or ""


class ReaderTimeZoneMiddleware:
    """Activate the time zone named by the `tz` cookie; unknown names are ignored, so
    the default (settings.TIME_ZONE) applies until the browser has told us."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = reader_zone(request.COOKIES.get(COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)
