"""Slots: where the parts of a cached page that change with every scan go.

A catalog page's body is the same from one scan to the next except for the health it
shows (statuses, figures, sparklines, the scan line, the checklist's results), so it is
rendered once per catalog revision with a slot where each such fragment goes, and each
scan renders only the fragments and splices them in (portal/pages.py). A slot is its name
between two marks, "<" and a NUL: text the templates render cannot hold one (its "<" is
escaped) and no template writes one but the `slot` tag.
"""

from __future__ import annotations

from django.utils.safestring import SafeString

MARK = "<\x00"
# Pages are spliced as the UTF-8 they are cached and sent as.
_MARK = MARK.encode()


def slot(*names) -> SafeString:
    """The slot named by `names` (joined with ":"), as a template writes it."""
    # Names are the templates' own words and ids, never a reader's or the catalog's text.
    # A SafeString made directly, not through mark_safe: a large page has thousands.
    return SafeString(f"{MARK}{':'.join(map(str, names))}{MARK}")


def fragments(rendered: bytes) -> dict[bytes, bytes]:
    """The fragments of a template that wrote each one right after its slot, by name."""
    pieces = rendered.split(_MARK)
    # ["", name, fragment, name, fragment, ...]: what comes before the first slot is
    # the template's own whitespace.
    return dict(zip(pieces[1::2], pieces[2::2], strict=True))


def splice(body: bytes, fragments: dict[bytes, bytes]) -> bytes:
    """`body` with each slot replaced by its fragment, in one pass."""
    return fill(split(body), fragments)


def split(body: bytes) -> list[bytes]:
    """`body` as its text between slots and its slots' names, alternating (text, name,
    text, …, text): what `fill` fills. A body spliced again and again (a large category's
    catalog layer, after every scan) is split once and kept so."""
    return body.split(_MARK)


def fill(pieces: list[bytes], fragments: dict[bytes, bytes], *, before: bytes = b"") -> bytes:
    """The body `pieces` were split from (`split`), each slot replaced by its fragment and
    `before` ahead of it: one copy of a body of megabytes, however many parts go in."""
    filled = [before, *pieces]
    filled[2::2] = [fragments[name] for name in pieces[1::2]]
    return b"".join(filled)
