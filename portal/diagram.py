"""The architecture map: a column layout of services and data stores, drawn as SVG.

Supporting services sit left of the menu services they serve, data stores on the
right; an edge goes from a service to each store it uses and each service it calls. A
service's node shows its icon (portal.icons) between its status dot and its name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from django.utils.translation import gettext_lazy as _

from .icons import Icon

NODE_WIDTH = 220
NODE_HEIGHT = 40
ROW_GAP = 14
COLUMN_GAP = 110
HEADER_HEIGHT = 34
MARGIN = 16
# Labels start right of the status dot; what fits after it, in half-width characters
# (a Hangul or other wide character counts two) at the map's 12px label size.
LABEL_OFFSET = 26
LABEL_FITS = 31
# A service's icon sits after the dot, its label after the icon, with less room.
ICON_OFFSET = 24
ICON_SIZE = 18
ICON_LABEL_OFFSET = 48
ICON_LABEL_FITS = 27


class Node(NamedTuple):
    """An item's box. A NamedTuple, as `Edge`: a large map has thousands of both, and a
    frozen dataclass takes four times as long to make."""

    key: str
    label: str
    kind: str  # "menu", "supporting" or "store"
    x: int
    y: int
    status: str = "unknown"  # the item's health, when the overview attached it
    status_label: str = ""
    icon: Icon | None = None  # a service's; stores have none

    @property
    def width(self) -> int:
        return NODE_WIDTH

    @property
    def height(self) -> int:
        return NODE_HEIGHT

    @property
    def dot_x(self) -> int:
        return self.x + 14

    @property
    def dot_y(self) -> int:
        return self.y + NODE_HEIGHT // 2

    @property
    def icon_x(self) -> int:
        return self.x + ICON_OFFSET

    @property
    def icon_y(self) -> int:
        return self.y + (NODE_HEIGHT - ICON_SIZE) // 2

    @property
    def icon_size(self) -> int:
        return ICON_SIZE

    @property
    def icon_text_x(self) -> int:
        """Where a monogram's initials are centred."""
        return self.icon_x + ICON_SIZE // 2

    @property
    def icon_text_y(self) -> int:
        return self.icon_y + ICON_SIZE // 2 + 3

    @property
    def text_x(self) -> int:
        return self.x + (ICON_LABEL_OFFSET if self.icon else LABEL_OFFSET)

    @property
    def short_label(self) -> str:
        """The label, cut with an ellipsis where it would run out of the box."""
        fits = ICON_LABEL_FITS if self.icon else LABEL_FITS
        if 2 * len(self.label) <= fits:
            return self.label  # fits even if every character is wide, as most labels do
        widths = [2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in self.label]
        if sum(widths) <= fits:
            return self.label
        kept, used = 0, 1  # the ellipsis takes a place too
        while used + widths[kept] <= fits:
            used += widths[kept]
            kept += 1
        return self.label[:kept].rstrip() + "…"

    @property
    def text_y(self) -> int:
        return self.y + NODE_HEIGHT // 2 + 5


class Edge(NamedTuple):
    source: str
    target: str
    kind: str  # "uses" or "calls"
    path: str


@dataclass(frozen=True)
class ColumnHeading:
    label: str
    x: int
    y: int


@dataclass(frozen=True)
class ArchitectureMap:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    headings: list[ColumnHeading]


def layout_architecture_map(services, data_stores, *, icons: dict[int, Icon]) -> ArchitectureMap:
    """Place services and stores in columns and route an edge for each relation.

    `services` carry `stores_used` and `talks_to_shown`, as the overview selector sets them;
    `icons` has each one's icon by id (CategoryOverview.icons).
    """
    columns = map_columns(services, data_stores)
    nodes: dict[str, Node] = {}
    headings = []
    # Each status in words, translated once: a large map has thousands of nodes.
    words: dict[tuple[str, str], str] = {}
    for index, (label, kind, items) in enumerate(columns):
        x = MARGIN + index * (NODE_WIDTH + COLUMN_GAP)
        headings.append(ColumnHeading(str(label), x + NODE_WIDTH // 2, MARGIN + 14))
        for row, item in enumerate(items):
            key = node_key(kind, item)
            y = MARGIN + HEADER_HEIGHT + row * (NODE_HEIGHT + ROW_GAP)
            health = getattr(item, "health", None)
            status = ("unknown", "")
            if health is not None:
                said = (health.status, health.unconfirmed)
                if said not in words:
                    words[said] = str(health.label)
                status = (health.status, words[said])
            icon = None if kind == "store" else icons[item.pk]
            nodes[key] = Node(key, item.name, kind, x, y, *status, icon=icon)

    edges = []
    for service in services:
        source = nodes[f"service-{service.pk}"]
        targets = [("uses", f"store-{s.pk}") for s in service.stores_used]
        targets += [("calls", f"service-{s.pk}") for s in service.talks_to_shown]
        for kind, key in targets:
            target = nodes.get(key)
            if target is not None:
                edges.append(Edge(source.key, target.key, kind, _route(source, target)))

    tallest = max((len(items) for _label, _kind, items in columns), default=0)
    width = 2 * MARGIN + len(columns) * NODE_WIDTH + max(len(columns) - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + HEADER_HEIGHT + max(tallest, 1) * (NODE_HEIGHT + ROW_GAP)
    return ArchitectureMap(width, height, list(nodes.values()), edges, headings)


def map_columns(services, data_stores) -> list[tuple[str, str, list]]:
    """The map's columns, left to right, as (heading, kind, items); empty ones left out."""
    supporting = [s for s in services if s.role == "supporting"]
    menu = [s for s in services if s.role != "supporting"]
    return [
        (label, kind, items)
        for label, kind, items in (
            (_("Supporting"), "supporting", supporting),
            (_("Menu"), "menu", menu),
            (_("Data stores"), "store", data_stores),
        )
        if items
    ]


def node_key(kind: str, item) -> str:
    """The key of an item's node (a column's `kind`, `map_columns`)."""
    return f"{'store' if kind == 'store' else 'service'}-{item.pk}"


def _route(source: Node, target: Node) -> str:
    """A cubic curve between facing sides, or a loop out to the right within one column."""
    source_mid = source.y + NODE_HEIGHT // 2
    target_mid = target.y + NODE_HEIGHT // 2
    if source.x == target.x:
        x = source.x + NODE_WIDTH
        bulge = x + 40
        return f"M{x},{source_mid} C{bulge},{source_mid} {bulge},{target_mid} {x},{target_mid}"
    if source.x < target.x:
        start, end = source.x + NODE_WIDTH, target.x
    else:
        start, end = source.x, target.x + NODE_WIDTH
    middle = (start + end) // 2
    return f"M{start},{source_mid} C{middle},{source_mid} {middle},{target_mid} {end},{target_mid}"
