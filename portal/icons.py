"""A service's icon: a tool logo the portal ships, or a monogram made from its name.

The logos are Simple Icons (CC0) that devtools/icons/vendor.mjs copies into
static/portal/icons/; a service names one by its file name without `.svg` (`gitlab`).
A service without one (or a reader's own tool Simple Icons has no logo for) gets a
monogram: its initials on a colour chosen from its slug, the same on every page.
"""

from __future__ import annotations

import functools
import re
import zlib
from pathlib import Path
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ICON_DIR = Path(__file__).resolve().parent / "static" / "portal" / "icons"
# Where the known names come from, as an error message says it.
ICON_SOURCE = "portal/static/portal/icons/ (Simple Icons)"
# aixops.css has a class per colour: .monogram-0 … .monogram-7.
MONOGRAM_COLOURS = 8
_WORD = re.compile(r"[^\W_]+")


@functools.cache
def known_icons() -> frozenset[str]:
    """The names of the logos the portal ships."""
    return frozenset(path.stem for path in ICON_DIR.glob("*.svg"))


def validate_icon(value: str) -> None:
    """An icon is one of the logos the portal ships, named as its file is."""
    if value and value not in known_icons():
        raise ValidationError(
            _('No icon "%(value)s": the known icons are those in %(source)s, e.g. %(examples)s.'),
            code="unknown_icon",
            params={
                "value": value,
                "source": ICON_SOURCE,
                "examples": ", ".join(sorted(known_icons())[:6]),
            },
        )


class Icon(NamedTuple):
    """What stands next to a service's name: a logo (`logo`, a static file path), or
    else its `initials` on monogram colour number `colour`. A NamedTuple, as the map's
    nodes (portal/diagram.py): a large category's page makes thousands."""

    logo: str
    initials: str
    colour: int


def icon_of(item) -> Icon:
    """The icon of a service (anything with `slug`, `name` and `icon`)."""
    name = getattr(item, "icon", "")
    if name in known_icons():
        return Icon(logo=f"portal/icons/{name}.svg", initials="", colour=0)
    return Icon(logo="", initials=initials(item.name), colour=monogram_colour(item.slug))


def initials(name: str) -> str:
    """The first letters of a name's first two words (`GitLab Runner`: GR), or the first
    letter of a one-word name."""
    words = _WORD.findall(name)[:2]
    return "".join(word[0] for word in words).upper() or "?"


def monogram_colour(slug: str) -> int:
    """A colour number from the slug: stable across processes, unlike hash()."""
    return zlib.crc32(slug.encode()) % MONOGRAM_COLOURS
