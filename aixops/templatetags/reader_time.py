"""Times as the reader reads them: in their time zone, named when it is not the portal's."""

from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..middleware import zone_abbreviation

register = template.Library()


@register.simple_tag
def reader_time(moment: datetime, text: str | None = None) -> SafeString:
    """A <time> element for `moment` showing `text`, by default the date and time in the
    language's format with the zone's abbreviation. `data-time-zone` is the zone the page
    was drawn in: portal.js draws a first page again once the server knows the reader's."""
    local = timezone.localtime(moment)
    if text is None:
        zone = zone_abbreviation(moment)
        text = formats.date_format(local, "DATETIME_FORMAT") + (f" {zone}" if zone else "")
    return format_html(
        '<time datetime="{}" data-time-zone="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        timezone.get_current_timezone_name(),
        text,
    )
