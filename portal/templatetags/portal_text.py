"""Template filters for catalog text."""

import re

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

_INLINE_CODE = re.compile(r"`([^`]+)`")


@register.filter
def inline_code(text: str) -> SafeString:
    """Render `backticked` spans as <code>; everything else is escaped."""
    parts = _INLINE_CODE.split(str(text))
    # split() alternates plain text and code: even indexes are text, odd ones code.
    return format_html_join(
        "",
        "{}",
        (
            (format_html("<code>{}</code>", part) if index % 2 else part,)
            for index, part in enumerate(parts)
        ),
    )
