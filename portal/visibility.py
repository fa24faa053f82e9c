"""Who sees which catalog items: categories, services and data stores limited to Keycloak
groups (`visible_to_groups`), enforced here for every page, the API and the top bar.

An unlimited item is seen by every approved member; a limited one only by members of one
of its groups, and an item of a limited category only by those who see the category too.
Staff see everything. What a member may not see is withheld, never named: it is left out
of lists, counts, the map and health as if it did not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import CharField, F, Value

from accounts.access import keycloak_groups

from .models import Category, DataStore, Service

CATEGORY, SERVICE, STORE = "category", "service", "store"


@dataclass(frozen=True)
class LimitedItem:
    """A limited category, service or data store, with what its counts depend on."""

    kind: str  # CATEGORY, SERVICE or STORE
    pk: int
    category_id: int  # its own id for a category
    groups: tuple[str, ...]
    role: str = ""  # a service's
    hidden: bool = False  # a service's


@dataclass(frozen=True)
class Limits:
    """Every limited item of the catalog (usually few); the same for all readers until the
    catalog changes, so pages keep it cached by catalog revision."""

    items: tuple[LimitedItem, ...] = ()

    @property
    def paths(self) -> frozenset[str]:
        """Every group some limit names."""
        return frozenset(path for item in self.items for path in item.groups)


def catalog_limits() -> Limits:
    """The limited items of the catalog, in one query (a UNION of the three tables)."""
    kind, blank = CharField(), Value("", output_field=CharField())

    def limited(model, label, **columns):
        return (
            model.objects.exclude(visible_to_groups=[])
            .order_by()
            .annotate(item_kind=Value(label, output_field=kind), **columns)
            .values_list(
                "item_kind", "pk", "category_ref", "visible_to_groups", "role_ref", "hidden_ref"
            )
        )

    no = Value(False)
    categories = limited(Category, CATEGORY, category_ref=F("pk"), role_ref=blank, hidden_ref=no)
    services = limited(
        Service, SERVICE, category_ref=F("category_id"), role_ref=F("role"), hidden_ref=F("hidden")
    )
    stores = limited(DataStore, STORE, category_ref=F("category_id"), role_ref=blank, hidden_ref=no)
    rows = categories.union(services, stores, all=True)
    return Limits(
        tuple(
            LimitedItem(kind, pk, category_id, tuple(groups), role, bool(hidden))
            for kind, pk, category_id, groups, role, hidden in rows
        )
    )


@dataclass(frozen=True)
class Reader:
    """What one reader may see: staff everything; a member what is unlimited, or limited
    to a group of theirs (`groups`: those of their groups that some limit names)."""

    staff: bool
    groups: frozenset[str] = frozenset()

    def may_see(self, *limits: Iterable[str] | None) -> bool:
        """Whether every given limit (an item's, its category's; empty or None: none)
        admits this reader."""
        if self.staff:
            return True
        return all(not paths or not self.groups.isdisjoint(paths) for paths in limits)

    @property
    def visibility_class(self) -> str:
        """What pages are cached by: readers who see the same items share it. Never the
        user: the groups that matter, as a digest (group names stay out of cache keys)."""
        if self.staff:
            return "staff"
        if not self.groups:
            return "member"
        digest = hashlib.sha256("\n".join(sorted(self.groups)).encode()).hexdigest()
        return f"member-{digest[:20]}"

    def withheld(self, limits: Limits) -> list[LimitedItem]:
        """The limited items this reader may not see, their category's limit aside."""
        return [item for item in limits.items if not self.may_see(item.groups)]


def reader_for(user, *, paths: frozenset[str]) -> Reader:
    """The reader `user` is (approved: access is checked before), against limits naming
    the groups `paths`; for a member, one query for their groups, none when there are no
    limits."""
    if user.is_staff:
        return Reader(staff=True)
    return Reader(staff=False, groups=keycloak_groups(user, among=paths) if paths else frozenset())


def item_visible(item, category, reader: Reader) -> bool:
    """Whether `reader` may see a service or data store of `category` (None: the category
    alone): hidden services are staff's, limited items their groups'."""
    if reader.staff:
        return True
    if getattr(item, "hidden", False):
        return False
    return reader.may_see(item.visible_to_groups if item else None, category.visible_to_groups)


def incident_visible(incident, reader: Reader) -> bool:
    """Whether `reader` may see an incident: as they may see its root cause (a service or
    data store, loaded with the incident, and its category)."""
    return item_visible(incident.service or incident.data_store, incident.category, reader)
