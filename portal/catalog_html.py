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
from .icons import Icon
from .models import DataStore, Service

# Catalog text is plain str from the database: escaped with what django.utils.html.escape
# applies, without its check for lazy strings, which thousands of calls would pay for.
escape = html.escape

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


def choice_labels(choices) -> dict[str, str]:
    """The labels of a field's `choices` by value, translated and escaped, as
    `get_<field>_display` gives them."""
    return {value: escape(str(label)) for value, label in choices.choices}


class CatalogHtml:
    """The repeated parts of one category's page, for `staff` or members, in the active
    language. Each part is one f-string per item: str.format and an include alike cost
    more per item than the text they write."""

    def __init__(self, category, *, staff: bool, icons: dict[int, Icon]):
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
        self._roles = choice_labels(Service.Role)
        self._access = choice_labels(Service.Access)
        self._kinds = choice_labels(DataStore.Kind)
        self._static: dict[str, str] = {}
        self._icons = icons
        self._escaped: dict[str, str] = {}

    def service_cards(self, services: Iterable) -> SafeString:
        """Each service's card, with the slot its health goes in (portal/slots.py) and its
        pin button, which submits the page's one form (portal/page.html) with the reader's
        CSRF token: the cards are cached for every reader of a kind."""
        category, back, pin_label = self._category, self._back, self._pin_label
        # Slots told apart by an item's id alone are written from one format each.
        health_slot = slots.slot("health", "service", "{}")
        cards = []
        for service in services:
            slug = escape(service.slug)
            name = self._repeated(service.name)
            role = self._repeated(service.role)
            role_label = self._label(self._roles, role)
            location = service.location
            heading = f'<a href="{self._repeated(location)}">{name}</a>' if location else name
            hidden = self._hidden if service.hidden else ""
            cards.append(
                "\n"
                f'      <article class="card service-card role-{role}" id="service-{slug}"'
                f' data-live="service:{category}/{slug}">\n'
                '        <div class="card-head">\n'
                f"          {self._icon(service, '')}\n"
                f"          <h3>{heading}</h3>\n"
                f'          <span class="badge badge-{role}">{role_label}</span>\n'
                f"          {hidden}{self.limited_badge(service)}\n"
                "        </div>\n"
                f"        <p>{self._repeated(service.summary)}</p>\n"
                f"        {health_slot.format(service.pk)}\n"
                f'        <div class="pin-form" id="pin-{slug}" data-pin="{slug}"'
                f' data-unpin-action="{self._unpin(service.slug)}">'
                '<button type="submit" form="page-post"'
                f' formaction="{self._pin(service.slug)}" name="next" value="{back}#pin-{slug}"'
                f' class="pin-button"><span class="pin-label">{pin_label}</span>'
                f'<span class="visually-hidden"> {name}</span></button></div>\n'
                "      </article>\n"
                "    "
            )
        return mark_safe("".join(cards))  # noqa: S308 (every value escaped above)

    def store_cards(self, stores: Iterable) -> SafeString:
        """Each data store's card, with the slot its health goes in."""
        category = self._category
        health_slot = slots.slot("health", "store", "{}")
        cards = []
        for store in stores:
            slug = escape(store.slug)
            kind = self._repeated(store.kind)
            remark = f'<p class="remark">{escape(store.remark)}</p>' if store.remark else ""
            users = store.users_shown
            used_by = (
                f'\n          <p class="used-by">{self._used_by}: '
                f"{', '.join(self._repeated(user.name) for user in users)}</p>\n        "
                if users
                else ""
            )
            cards.append(
                "\n"
                f'      <article class="card store-card" id="store-{slug}"'
                f' data-live="store:{category}/{slug}">\n'
                '        <div class="card-head">\n'
                f"          <h3>{escape(store.name)}</h3>\n"
                f'          <span class="badge badge-store badge-{kind}">'
                f"{self._label(self._kinds, kind)}</span>{self.limited_badge(store)}\n"
                "        </div>\n"
                f"        <p>{escape(store.description)}</p>\n"
                f"        {remark}\n"
                f"        {used_by}\n"
                f"        {health_slot.format(store.pk)}\n"
                "      </article>\n"
                "    "
            )
        return mark_safe("".join(cards))  # noqa: S308 (every value escaped above)

    def components(self, services: Iterable) -> SafeString:
        """The open-source components list's items: every service again, with its path and
        its access protection."""
        items = []
        for service in services:
            location = self._repeated(service.location)
            path = f'<a class="path" href="{location}">{location}</a>' if location else ""
            role = self._repeated(service.role)
            role_label = self._label(self._roles, role)
            access = self._repeated(service.access)
            items.append(
                "\n"
                "      <li>\n"
                '        <div class="component-name">\n'
                f"          {self._icon(service, ' service-icon-small')}"
                f"<strong>{self._repeated(service.name)}</strong>\n"
                f"          {path}\n"
                f'          <span class="badge badge-{role}">{role_label}</span>\n'
                f'          <span class="access">{self._label(self._access, access)}</span>\n'
                "        </div>\n"
                f"        <p>{self._repeated(service.summary)}</p>\n"
                "      </li>\n"
                "    "
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
                f'<text class="map-heading" x="{heading.x}" y="{heading.y}"'
                f' text-anchor="middle">{escape(heading.label)}</text>'
                for heading in architecture_map.headings
            )
        )

    def map_edges(self, architecture_map: ArchitectureMap) -> SafeString:
        """The map's edges."""
        # An edge is the map's own (portal/diagram.py): node keys made of ids, a kind of
        # its own words and a path of numbers, never catalog text; nothing to escape.
        return mark_safe(  # noqa: S308
            "".join(
                f'<path class="edge edge-{edge.kind}" d="{edge.path}"'
                f' data-source="{edge.source}" data-target="{edge.target}"/>'
                for edge in architecture_map.edges
            )
        )

    def map_nodes(self, architecture_map: ArchitectureMap) -> SafeString:
        """The map's nodes, each with the slots of its status dot and its words (filled in
        per scan, as the cards' health)."""
        dot_slot, label_slot = slots.slot("dot", "{}"), slots.slot("dot-label", "{}")
        nodes = []
        for node in architecture_map.nodes:
            # Its key (of ids) and kind are the map's own, as an edge's (`map_edges`); its
            # label is catalog text.
            icon = self._map_icon(node) if node.icon else ""
            nodes.append(
                f'<g class="node node-{node.kind}" data-node="{node.key}">'
                f'<rect x="{node.x}" y="{node.y}" width="{node.width}" height="{node.height}"'
                ' rx="8"/>'
                f'<circle class="dot status-{dot_slot.format(node.key)}" cx="{node.dot_x}"'
                f' cy="{node.dot_y}" r="5"><title>{label_slot.format(node.key)}</title>'
                f"</circle>{icon}"
                f'<text class="node-label" x="{node.text_x}" y="{node.text_y}">'
                f"{self._repeated(node.short_label)}</text></g>"
            )
        return mark_safe("".join(nodes))  # noqa: S308 (catalog text escaped above)

    def _map_icon(self, node) -> str:
        icon = node.icon
        x, y, size = node.icon_x, node.icon_y, node.icon_size
        if icon.logo:
            return (
                f'<rect class="map-icon-tile" x="{x}" y="{y}" width="{size}" height="{size}"'
                f' rx="3"/><image href="{self._static_url(icon.logo)}" x="{x + 2}" y="{y + 2}"'
                f' width="{size - 4}" height="{size - 4}" data-icon="{self._repeated(icon.logo)}"/>'
            )
        return (
            f'<g class="map-monogram monogram-{icon.colour}" data-icon="monogram">'
            f'<rect x="{x}" y="{y}" width="{size}" height="{size}" rx="3"/>'
            f'<text x="{node.icon_text_x}" y="{node.icon_text_y}" text-anchor="middle">'
            f"{self._repeated(icon.initials)}</text></g>"
        )

    def _icon(self, service, size: str) -> str:
        """The service's logo or monogram, as portal/_service_icon.html writes it (with
        `size`, its size class, or "")."""
        icon = self._icons[service.pk]
        if icon.logo:
            return (
                f'<img class="service-icon{size}" src="{self._static_url(icon.logo)}" alt=""'
                f' width="24" height="24" data-icon="{self._repeated(service.icon)}">'
            )
        return (
            f'<span class="service-icon monogram monogram-{icon.colour}{size}"'
            f' aria-hidden="true" data-icon="monogram">{self._repeated(icon.initials)}</span>'
        )

    def _static_url(self, path: str) -> str:
        if path not in self._static:
            self._static[path] = escape(static(path))
        return self._static[path]

    def _repeated(self, text: str) -> str:
        """Text the page shows many times, escaped once: a choice's value (a role, an
        access, a kind, each one of a few), a service's name, summary and location (on
        its card, in the components, on the map and as a store's user), an icon's name or
        initials."""
        escaped = self._escaped.get(text)
        if escaped is None:
            escaped = self._escaped[text] = escape(text)
        return escaped

    @staticmethod
    def _label(labels: dict[str, str], value: str) -> str:
        """A choice's label, or the value itself when it is none of the choices."""
        return labels.get(value, value)
