"""The page shell: the asset links and the top bar, rendered once per process and kind of reader.

The top bar is the same on every page for every reader of one language and one kind
(signed in or not, approved, staff); only the CSRF token, the page's own address (where
the language switch returns to), the reader's name and the category navigation differ.
Walking its template on every request cost more than a cached overview's own work
(bench/overview.py), so it is rendered once with markers in those places, and each
request puts its own values in, escaped.
"""

import re
from functools import lru_cache

from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.autoreload import file_changed
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def marker(name: str) -> SafeString:
    """A placeholder to render in a template's place of `name`; NUL never occurs in a
    rendered template, so it cannot clash with page text."""
    return mark_safe(f"\x00{name}\x00")  # noqa: S308 - a constant


_MARKER = re.compile("\x00([a-z_]+)\x00")


def pieces(rendered: str) -> tuple[str, ...]:
    """`rendered` cut at its markers: text at even places, marker names at odd ones."""
    return tuple(_MARKER.split(rendered))


def fill(cut: tuple[str, ...], values: dict[str, str]) -> str:
    """The text with each marker's value put in its place. Values are never searched
    for markers, so one that happens to hold a marker stays as it is."""
    return "".join(values[piece] if index % 2 else piece for index, piece in enumerate(cut))


@lru_cache(maxsize=1)
def page_assets() -> SafeString:
    """The icon, the stylesheet and the script of every portal page."""
    return mark_safe(render_to_string("portal/_page_assets.html"))  # noqa: S308


@lru_cache(maxsize=64)
def _header(language: str, signed_in: bool, approved: bool, staff: bool) -> tuple[str, ...]:
    with translation.override(language):
        rendered = render_to_string(
            "portal/_page_header.html",
            {
                **{name: marker(name) for name in ("csrf_token", "next", "username", "nav")},
                "signed_in": signed_in,
                "approved": approved,
                "staff": staff,
            },
        )
    return pieces(rendered)


def page_header(request, nav: str = "") -> SafeString:
    """The top bar: brand, `nav` (already safe HTML), language switch, the reader's links."""
    user = request.user
    signed_in = user.is_authenticated
    header = _header(
        translation.get_language(),
        signed_in,
        signed_in and user.is_approved,
        signed_in and user.is_staff,
    )
    values = {
        "csrf_token": escape(get_token(request)),
        "next": escape(request.get_full_path()),
        "username": escape(user.get_username()) if signed_in else "",
        "nav": nav,
    }
    return mark_safe(fill(header, values))  # noqa: S308 - values escaped above


@file_changed.connect
def _forget_rendered_shell(sender, file_path, **kwargs):
    # runserver reloads edited templates without a restart; so must the shell.
    page_assets.cache_clear()
    _header.cache_clear()
