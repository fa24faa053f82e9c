"""What a category's page repeats per item, as HTML: its service cards (each with the slot
of its health and its pin button), its data store cards, its open-source components and
its architecture map's nodes and edges.

A large category has thousands of each, and its catalog part is rendered again after
every catalog change (and by the first reader of a cold cache). Written in Python, as the
health cards are (portal/cards.py), rather than a template loop with includes per item:
the include machinery (a context per item, each variable resolved through it, each word
translated and each URL reversed again) cost far more than the text. The page's frame
stays a template (portal/_category_body.html, through portal_catalog's tags); each word is
translated, each URL reversed and each static file named once per page, and each value
escaped as the template escaped it, so the page reads as it did
(tests/portal/category_catalog_before.html holds those templates).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from . import slots
from .diagram import ArchitectureMap
from .icons import Icon, icon_of

# Catalog text is plain str from the database: escaped with what django.utils.html.escape
# applies, without its check for lazy strings, which thousands of calls would pay for.
escape = html.escape

SERVICE_CARD = (
    "\n"
    '      <article class="card service-card role-{role}" id="service-{slug}"'
    ' data-live="service:{category}/{slug}">\n'
    '        <div class="card-head">\n'
    "          {icon}\n"
    "          <h3>{name}</h3>\n"
    '          <span class="badge badge-{role}">{role_display}</span>\n'
    "          {hidden}{limited}\n"
    "        </div>\n"
    "        <p>{summary}</p>\n"
    "        {health}\n"
    '        <div class="pin-form" id="pin-{slug}" data-pin="{slug}"'
    ' data-unpin-action="{unpin}"><button type="submit" form="page-post"'
    ' formaction="{pin}" name="next" value="{back}#pin-{slug}" class="pin-button">'
    '<span class="pin-label">{pin_label}</span>'
    '<span class="visually-hidden"> {plain_name}</span></button></div>\n'
    "      </article>\n"
    "    "
)
STORE_CARD = (
    "\n"
    '      <article class="card store-card" id="store-{slug}"'
    ' data-live="store:{category}/{slug}">\n'
    '        <div class="card-head">\n'
    "          <h3>{name}</h3>\n"
    '          <span class="badge badge-store badge-{kind}">{kind_display}</span>{limited}\n'
    "        </div>\n"
    "        <p>{description}</p>\n"
    "        {remark}\n"
    "        {used_by}\n"
    "        {health}\n"
    "      </article>\n"
    "    "
)
USED_BY = '\n          <p class="used-by">{label}: {names}</p>\n        '
COMPONENT = (
    "\n"
    "      <li>\n"
    '        <div class="component-name">\n'
    "          {icon}<strong>{name}</strong>\n"
    "          {path}\n"
    '          <span class="badge badge-{role}">{role_display}</span>\n'
    '          <span class="access">{access_display}</span>\n'
    "        </div>\n"
    "        <p>{summary}</p>\n"
    "      </li>\n"
    "    "
)
LOGO = (
    '<img class="service-icon{size}" src="{src}" alt="" width="24" height="24" data-icon="{name}">'
)
MONOGRAM = (
    '<span class="service-icon monogram monogram-{colour}{size}" aria-hidden="true"'
    ' data-icon="monogram">{initials}</span>'
)
MAP_NODE = (
    '<g class="node node-{kind}" data-node="{key}">'
    '<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="8"/>'
    '<circle class="dot status-{dot}" cx="{dot_x}" cy="{dot_y}" r="5"><title>{dot_label}</title>'
    "</circle>{icon}"
    '<text class="node-label" x="{text_x}" y="{text_y}">{label}</text></g>'
)
MAP_LOGO = (
    '<rect class="map-icon-tile" x="{x}" y="{y}" width="{size}" height="{size}" rx="3"/>'
    '<image href="{src}" x="{inner_x}" y="{inner_y}" width="{inner_size}"'
    ' height="{inner_size}" data-icon="{logo}"/>'
)
MAP_MONOGRAM = (
    '<g class="map-monogram monogram-{colour}" data-icon="monogram">'
    '<rect x="{x}" y="{y}" width="{size}" height="{size}" rx="3"/>'
    '<text x="{text_x}" y="{text_y}" text-anchor="middle">{initials}</text></g>'
)
MAP_EDGE = '<path class="edge edge-{}" d="{}" data-source="{}" data-target="{}"/>'
MAP_HEADING = '<text class="map-heading" x="{}" y="{}" text-anchor="middle">{}</text>'

# What a slug is made of (the `slug` path converter's): such a slug needs no quoting in a
# URL. Placed in a URL pattern once per page (`slug_url`).
SLUG = re.compile(r"[-a-zA-Z0-9_]+")
SLUG_PLACEHOLDER = "__slug__"


def slug_url(name: str) -> Callable[[str], str]:
    """`reverse(name, args=[slug])`, escaped, for every item of a page: reversed once, and
    each slug put in its place; anything else a slug (from a fixture no form checked)
    goes through reverse, which refuses it as before."""
    pattern = reverse(name, args=[SLUG_PLACEHOLDER])
    head, tail = (escape(part) for part in pattern.split(SLUG_PLACEHOLDER))

    def url(slug: str) -> str:
        if SLUG.fullmatch(slug):
            return f"{head}{slug}{tail}"
        return escape(reverse(name, args=[slug]))

    return url


class CatalogHtml:
    """The repeated parts of one category's page, for `staff` or members, in the active
    language."""

    def __init__(self, category, *, staff: bool):
        self._category = escape(category.slug)
        self._back = escape(category.get_absolute_url())
        self._staff = staff
        self._pin = slug_url("portal:pin")
        self._unpin = slug_url("portal:unpin")
        # As {% translate %} writes them: escaped.
        self._hidden = f'<span class="badge badge-hidden">{escape(gettext("Hidden"))}</span>'
        self._pin_label = escape(gettext("Pin"))
        self._used_by = escape(gettext("Used by"))
        self._limited_to = gettext("Limited to %(groups)s")
        self._displays: dict[tuple[type, str, str], str] = {}
        self._static: dict[str, str] = {}
        self._icons: dict[int, Icon] = {}

    def service_cards(self, services: Iterable) -> SafeString:
        """Each service's card, with the slot its health goes in (portal/slots.py) and its
        pin button, which submits the page's one form (portal/page.html) with the reader's
        CSRF token: the cards are cached for every reader of a kind."""
        cards = []
        for service in services:
            slug = escape(service.slug)
            name = escape(service.name)
            location = service.location
            cards.append(
                SERVICE_CARD.format(
                    role=escape(service.role),
                    slug=slug,
                    category=self._category,
                    icon=self._icon(service, ""),
                    name=f'<a href="{escape(location)}">{name}</a>' if location else name,
                    role_display=self._display(service, "role"),
                    hidden=self._hidden if service.hidden else "",
                    limited=self.limited_badge(service),
                    summary=escape(service.summary),
                    health=slots.slot("health", "service", service.pk),
                    unpin=self._unpin(service.slug),
                    pin=self._pin(service.slug),
                    back=self._back,
                    pin_label=self._pin_label,
                    plain_name=name,
                )
            )
        return mark_safe("".join(cards))  # noqa: S308 (every value escaped above)

    def store_cards(self, stores: Iterable) -> SafeString:
        """Each data store's card, with the slot its health goes in."""
        cards = []
        for store in stores:
            slug = escape(store.slug)
            users = store.users_shown
            used_by = (
                USED_BY.format(
                    label=self._used_by, names=", ".join(escape(user.name) for user in users)
                )
                if users
                else ""
            )
            cards.append(
                STORE_CARD.format(
                    slug=slug,
                    category=self._category,
                    name=escape(store.name),
                    kind=escape(store.kind),
                    kind_display=self._display(store, "kind"),
                    limited=self.limited_badge(store),
                    description=escape(store.description),
                    remark=f'<p class="remark">{escape(store.remark)}</p>' if store.remark else "",
                    used_by=used_by,
                    health=slots.slot("health", "store", store.pk),
                )
            )
        return mark_safe("".join(cards))  # noqa: S308 (every value escaped above)

    def components(self, services: Iterable) -> SafeString:
        """The open-source components list's items: every service again, with its path and
        its access protection."""
        items = []
        for service in services:
            location = escape(service.location)
            items.append(
                COMPONENT.format(
                    icon=self._icon(service, " service-icon-small"),
                    name=escape(service.name),
                    path=f'<a class="path" href="{location}">{location}</a>' if location else "",
                    role=escape(service.role),
                    role_display=self._display(service, "role"),
                    access_display=self._display(service, "access"),
                    summary=escape(service.summary),
                )
            )
        return mark_safe("".join(items))  # noqa: S308 (every value escaped above)

    def limited_badge(self, item) -> str:
        """For staff, the groups a limited item is shown to (as portal/_limited_badge.html
        writes it); "" for members and for items shown to all."""
        groups = item.visible_to_groups
        if not (self._staff and groups):
            return ""
        escaped = [escape(group) for group in groups]
        # As {% blocktranslate %} writes it: the value escaped, the translation as it is.
        label = self._limited_to % {"groups": ", ".join(escaped)}
        return (
            f' <span class="badge badge-limited" data-limited-to="{" ".join(escaped)}">'
            f"{label}</span>"
        )

    def map_headings(self, architecture_map: ArchitectureMap) -> SafeString:
        """The map's column headings."""
        return mark_safe(  # noqa: S308 (the labels escaped here, the rest numbers)
            "".join(
                MAP_HEADING.format(heading.x, heading.y, escape(heading.label))
                for heading in architecture_map.headings
            )
        )

    def map_edges(self, architecture_map: ArchitectureMap) -> SafeString:
        """The map's edges."""
        return mark_safe(  # noqa: S308 (every value escaped here)
            "".join(
                MAP_EDGE.format(
                    escape(edge.kind), escape(edge.path), escape(edge.source), escape(edge.target)
                )
                for edge in architecture_map.edges
            )
        )

    def map_nodes(self, architecture_map: ArchitectureMap) -> SafeString:
        """The map's nodes, each with the slots of its status dot and its words (filled in
        per scan, as the cards' health)."""
        nodes = []
        for node in architecture_map.nodes:
            key = escape(node.key)
            nodes.append(
                MAP_NODE.format(
                    kind=escape(node.kind),
                    key=key,
                    x=node.x,
                    y=node.y,
                    width=node.width,
                    height=node.height,
                    dot=slots.slot("dot", node.key),
                    dot_x=node.dot_x,
                    dot_y=node.dot_y,
                    dot_label=slots.slot("dot-label", node.key),
                    icon=self._map_icon(node) if node.icon else "",
                    text_x=node.text_x,
                    text_y=node.text_y,
                    label=escape(node.short_label),
                )
            )
        return mark_safe("".join(nodes))  # noqa: S308 (every value escaped above)

    def _map_icon(self, node) -> str:
        icon = node.icon
        x, y, size = node.icon_x, node.icon_y, node.icon_size
        if icon.logo:
            return MAP_LOGO.format(
                x=x,
                y=y,
                size=size,
                src=self._static_url(icon.logo),
                inner_x=x + 2,
                inner_y=y + 2,
                inner_size=size - 4,
                logo=escape(icon.logo),
            )
        return MAP_MONOGRAM.format(
            colour=icon.colour,
            x=x,
            y=y,
            size=size,
            text_x=node.icon_text_x,
            text_y=node.icon_text_y,
            initials=escape(icon.initials),
        )

    def _icon(self, service, size: str) -> str:
        """The service's logo or monogram, as portal/_service_icon.html writes it (with
        `size`, its size class, or "")."""
        icon = self._icons.get(service.pk)
        if icon is None:
            icon = self._icons[service.pk] = icon_of(service)
        if icon.logo:
            return LOGO.format(
                size=size, src=self._static_url(icon.logo), name=escape(service.icon)
            )
        return MONOGRAM.format(colour=icon.colour, size=size, initials=escape(icon.initials))

    def _static_url(self, path: str) -> str:
        if path not in self._static:
            self._static[path] = escape(static(path))
        return self._static[path]

    def _display(self, item, field: str) -> str:
        """The label of a choice field's value, escaped: once per page."""
        key = (type(item), field, getattr(item, field))
        if key not in self._displays:
            self._displays[key] = escape(str(getattr(item, f"get_{field}_display")()))
        return self._displays[key]
