"""Reads of the catalog for pages and the API, each in a fixed number of queries."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.db.models import (
    BooleanField,
    CharField,
    ExpressionWrapper,
    F,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import NullIf, TruncDate
from django.http import Http404
from django.utils import timezone

from . import health, rollups
from . import status as item_status
from .diagram import ArchitectureMap, layout_architecture_map
from .icons import Icon, icon_of
from .models import (
    Category,
    ChecklistItem,
    ConfigNote,
    DataStore,
    FocusArea,
    HealthCheck,
    HealthRollup,
    HealthStatus,
    Incident,
    IncidentUpdate,
    Service,
)
from .models.health import shown_status
from .visibility import SERVICE, STORE, Limits, Reader, incident_visible, item_visible

# Passed as `scan` to have the selector look the latest scan up itself.
LOAD_SCAN = object()


@dataclass(frozen=True)
class TextItem:
    """A focus area, checklist item or configuration note, as the page shows it."""

    position: int
    text: str
    is_access_touchpoint: bool = False


@dataclass(frozen=True)
class StepCheck:
    """A check that verifies a checklist step, as the step shows it: its last result."""

    slug: str
    status: str  # as shown: maintenance while its service is in a window
    detail: str
    checked_at: datetime | None

    @property
    def label(self) -> str:
        return HealthStatus(self.status).label

    @property
    def time_display(self) -> str:
        return health.format_scan_time(self.checked_at) if self.checked_at else ""


@dataclass(frozen=True)
class ChecklistStep(TextItem):
    """A checklist item with the checks that verify it: ticked when they are all up,
    failed when one is down."""

    pk: int = 0
    checks: tuple[StepCheck, ...] = ()

    @property
    def status(self) -> str:
        """The worst of its checks' statuses; blank when no check verifies it."""
        return health.worst(check.status for check in self.checks) if self.checks else ""


@dataclass(eq=False, slots=True)
class ItemRow:
    """What every row of a service or data store read for a page starts with, in the order
    of `_ITEM_HEALTH_FIELDS`: its id, who may see it, its order and its SLO."""

    pk: int
    visible_to_groups: list[str] | None  # None when it has no limit (`_ITEM_HEALTH_FIELDS`)
    position: int
    slug: str
    slo_target: float | None
    slo_window_days: int


@dataclass(eq=False, slots=True)
class ServiceRow(ItemRow):
    """A service as a category's overview shows it (`category_overview`): the columns its
    page and answer read, with what the selector gives it. A plain row, not a model
    instance: a large category has thousands, all read again by a cold page's first
    reader."""

    name: str
    summary: str
    role: str
    hidden: bool
    location: str
    access: str
    icon: str
    stores_used: list[StoreRow] = field(default_factory=list)
    talks_to_shown: list[ServiceRow] = field(default_factory=list)
    health: health.ItemHealth | None = None
    slo: item_status.Slo | None = None

    def get_role_display(self) -> str:
        """Its role in words, as the model says it."""
        return _choice_label(Service.Role, self.role)

    def get_access_display(self) -> str:
        """Its access protection in words, as the model says it."""
        return _choice_label(Service.Access, self.access)


@dataclass(eq=False, slots=True)
class StoreRow(ItemRow):
    """A data store as a category's overview shows it, as `ServiceRow`."""

    name: str
    kind: str
    description: str
    remark: str
    users_shown: list[ServiceRow] = field(default_factory=list)
    health: health.ItemHealth | None = None
    slo: item_status.Slo | None = None

    def get_kind_display(self) -> str:
        """Its kind in words, as the model says it."""
        return _choice_label(DataStore.Kind, self.kind)


def _choice_label(choices, value: str) -> str:
    """A choice's label, or the value itself when it is none of the choices, as a model's
    get_<field>_display gives it."""
    return str(dict(choices.choices).get(value, value))


@dataclass
class CategoryOverview:
    """Everything the category overview page and its JSON show, counts computed from it."""

    category: Category
    categories: list[Category]
    services: list[ServiceRow]
    data_stores: list[StoreRow]
    focus_areas: list[TextItem]
    checklist: list[ChecklistStep]
    config_notes: list[TextItem]
    visible_count: int
    hidden_count: int
    supporting_count: int
    health: health.CategoryHealth
    # Some of its services or data stores are limited to groups the reader is not in.
    withheld: bool = False
    # Read by staff: limited items say to which groups (members are never told).
    staff: bool = False

    def limit_of(self, item) -> list[str] | None:
        """The groups an item is limited to, for staff; None for members."""
        # A row reads no limit as None (`_ITEM_HEALTH_FIELDS`), the model as [].
        return (item.visible_to_groups or []) if self.staff else None

    @functools.cached_property
    def architecture_map(self) -> ArchitectureMap:
        """The map of its services and stores, laid out when a page or answer draws it: a
        category's catalog part does, once per catalog revision; the health a scan
        renders again does not (portal.templatetags.portal_cards)."""
        return layout_architecture_map(self.services, self.data_stores, icons=self.icons)

    @functools.cached_property
    def icons(self) -> dict[int, Icon]:
        """Each shown service's icon, by id: made once for the map and the cards alike."""
        return {service.pk: icon_of(service) for service in self.services}

    @property
    def item_count(self) -> int:
        return len(self.services)

    @property
    def data_store_count(self) -> int:
        return len(self.data_stores)

    @property
    def checklist_count(self) -> int:
        return len(self.checklist)

    @property
    def touchpoint_count(self) -> int:
        return sum(1 for note in self.config_notes if note.is_access_touchpoint)

    def counts(self) -> dict[str, int]:
        return {
            "items": self.item_count,
            "visible_apps": self.visible_count,
            "hidden_apps": self.hidden_count,
            "supporting": self.supporting_count,
            "data_stores": self.data_store_count,
            "checklist_items": self.checklist_count,
            "access_touchpoints": self.touchpoint_count,
        }

    def as_dict(self) -> dict:
        category = self.category
        return {
            "slug": category.slug,
            "name": category.name,
            "title": category.title,
            "summary": category.summary,
            "description": category.description,
            "last_scan": self.health.as_dict()["last_scan"],
            "health": self.health.as_dict(),
            "counts": self.counts(),
            "withheld": self.withheld,
            "visible_to_groups": self.limit_of(category),
            "services": [
                {
                    "slug": service.slug,
                    "name": service.name,
                    "summary": service.summary,
                    "role": service.role,
                    "hidden": service.hidden,
                    "location": service.location,
                    "access": service.access,
                    "icon": service.icon,
                    "data_stores": [store.slug for store in service.stores_used],
                    "talks_to": [other.slug for other in service.talks_to_shown],
                    "visible_to_groups": self.limit_of(service),
                    "health": service.health.as_dict(),
                    "slo": service.slo.as_dict() if service.slo else None,
                }
                for service in self.services
            ],
            "data_stores": [
                {
                    "slug": store.slug,
                    "name": store.name,
                    "kind": store.kind,
                    "description": store.description,
                    "remark": store.remark,
                    "used_by": [service.slug for service in store.users_shown],
                    "visible_to_groups": self.limit_of(store),
                    "health": store.health.as_dict(),
                    "slo": store.slo.as_dict() if store.slo else None,
                }
                for store in self.data_stores
            ],
            "focus_areas": [item.text for item in self.focus_areas],
            "checklist": [item.text for item in self.checklist],
            "config_notes": [
                {"text": note.text, "access_touchpoint": note.is_access_touchpoint}
                for note in self.config_notes
            ],
        }


def category_overview(
    *, slug: str, reader: Reader, scan: health.ScanInfo | object | None = LOAD_SCAN
) -> CategoryOverview:
    """Load one category's overview, as `reader` may see it, in seven queries, whatever the
    catalog's size:

    1. every category (the page's category switcher; the current one is picked from it),
    2. the category's services,
    3. its data stores,
    4. the edges of its map: store users and service-to-service calls, as one UNION,
    5. its focus areas, checklist and notes, as one UNION,
    6. the health checks of its services and stores, each with its maintenance flag;
       uptime and sparkline figures are kept on the check rows by the scans,
    7. the checks that verify its checklist steps (of any category), with the same flag.

    Plus one for the latest scan unless the caller passes `scan` (pages already know it),
    and one for the daily rollups when one of its items has an SLO (`attach_slos`).
    A category the reader may not see is not found, exactly as one that does not exist;
    its services and stores they may not see are left out of everything, counts included.
    """
    if scan is LOAD_SCAN:
        scan = health.latest_scan_info()
    show_hidden = reader.staff
    categories = [c for c in Category.objects.all() if reader.may_see(c.visible_to_groups)]
    category = next((c for c in categories if c.slug == slug), None)
    if category is None:
        raise Http404("No such category.")

    stored_services = [
        ServiceRow(*row)
        for row in Service.objects.filter(category=category).values_list(*_SERVICE_ROW_FIELDS)
    ]
    stored_stores = [
        StoreRow(*row)
        for row in DataStore.objects.filter(category=category).values_list(*_STORE_ROW_FIELDS)
    ]
    all_services = [s for s in stored_services if reader.may_see(s.visible_to_groups)]
    data_stores = [s for s in stored_stores if reader.may_see(s.visible_to_groups)]
    withheld = len(all_services) + len(data_stores) < len(stored_services) + len(stored_stores)

    services_by_id = {service.pk: service for service in all_services}
    stores_by_id = {store.pk: store for store in data_stores}
    store_users: dict[int, list[ServiceRow]] = {store.pk: [] for store in data_stores}
    for source_id, target_id, kind in _map_edges(category):
        source = services_by_id.get(source_id)
        if source is None:
            continue
        if kind == "store" and target_id in stores_by_id:
            source.stores_used.append(stores_by_id[target_id])
            store_users[target_id].append(source)
        elif kind == "service" and target_id in services_by_id:
            source.talks_to_shown.append(services_by_id[target_id])

    def by_position(row):
        return (row.position, row.slug)

    for service in all_services:
        service.stores_used.sort(key=by_position)
        service.talks_to_shown.sort(key=by_position)
    for users in store_users.values():
        users.sort(key=by_position)

    step_checks = _checklist_checks(category, reader=reader)
    texts: dict[str, list[TextItem]] = {"focus": [], "checklist": [], "note": []}
    for kind, position, text, touchpoint, pk in _text_items(category):
        if kind == "checklist":
            texts[kind].append(_checklist_step(position, text, pk, step_checks))
        else:
            texts[kind].append(TextItem(position, text, bool(touchpoint)))
    for items in texts.values():
        items.sort(key=lambda item: item.position)

    category_health = _attach_items_health(category, all_services, data_stores, scan=scan)
    menu = [s for s in all_services if s.role == Service.Role.MENU]
    shown = [s for s in all_services if show_hidden or not s.hidden]
    # What a reader may not see is named nowhere: not as a store's user, not as a target.
    for store in data_stores:
        store.users_shown = [s for s in store_users[store.pk] if show_hidden or not s.hidden]
    for service in shown:
        service.talks_to_shown = [s for s in service.talks_to_shown if show_hidden or not s.hidden]
    return CategoryOverview(
        category=category,
        categories=categories,
        services=shown,
        data_stores=data_stores,
        focus_areas=texts["focus"],
        checklist=texts["checklist"],
        config_notes=texts["note"],
        visible_count=sum(1 for s in menu if not s.hidden),
        hidden_count=sum(1 for s in menu if s.hidden),
        supporting_count=sum(1 for s in all_services if s.role == Service.Role.SUPPORTING),
        health=category_health,
        withheld=withheld,
        staff=reader.staff,
    )


@dataclass
class CategoryHealthOverview:
    """What a scan changes on a category's overview, as a reader may see it: what
    portal/_category_health.html and _category_times.html read of a CategoryOverview (its
    items' cards and map dots, its checklist's results, its status and scan line), without
    the catalog, which portal.pages renders once per catalog revision."""

    category: Category
    services: list[HealthItem]  # those shown, each with its `health` and `slo`
    data_stores: list[HealthItem]
    checklist: list[ChecklistStep]
    health: health.CategoryHealth


@dataclass(eq=False, slots=True)
class HealthItem(ItemRow):
    """A service or data store as the health of a category's page reads it (beyond its id:
    who may see it, its order, for the cards' "depends on" lines, and its SLO; a
    service's part and whether it is hidden, a data store's name), with what
    `_attach_items_health` gives it. A plain row, not a model instance: a large category
    has thousands, read again after every scan."""

    kind: str  # "service" or "data_store", as rollups name items
    role: str = ""
    hidden: bool = False
    name: str = ""
    stores_used: list[HealthItem] = field(default_factory=list)
    health: health.ItemHealth | None = None
    slo: item_status.Slo | None = None


_ITEM_HEALTH_FIELDS = (
    "pk",
    # NULL for an item with no limit, as most have: only the limits there are are parsed
    # from JSON, not thousands of empty lists.
    NullIf("visible_to_groups", Value([], output_field=JSONField())),
    "position",
    "slug",
    "slo_target",
    "slo_window_days",
)


# What `category_overview` reads of its services and data stores (ServiceRow, StoreRow).
_SERVICE_ROW_FIELDS = (
    *_ITEM_HEALTH_FIELDS,
    "name",
    "summary",
    "role",
    "hidden",
    "location",
    "access",
    "icon",
)
_STORE_ROW_FIELDS = (*_ITEM_HEALTH_FIELDS, "name", "kind", "description", "remark")


class HealthCatalog(NamedTuple):
    """What of the catalog a category's health reads (`category_health_overview`), as a
    reader may see it: the same from one scan to the next, until the catalog changes, so
    that pages keep it by catalog revision (portal.pages) and a scan reads only the
    checks. Plain rows, cheap to cache."""

    category: Category
    services: list[tuple]  # those the reader may see: `_ITEM_HEALTH_FIELDS`, role, hidden
    stores: list[tuple]  # `_ITEM_HEALTH_FIELDS`, name
    # (service id, store id) of the shown items, in the order of the stores.
    uses: list[tuple[int, int]]
    checklist: list[tuple[int, str, int]]  # (position, text, id) of each step, in order


def health_catalog(*, slug: str, reader: Reader) -> HealthCatalog:
    """What of one category's catalog its health reads, as `reader` may see it, by the
    same rules as `category_overview`, in five queries of a few columns each:

    1. the category,
    2. its services,
    3. its data stores,
    4. which of its services use which of its stores,
    5. its checklist.

    Http404 for a category the reader may not see, as `category_overview`."""
    category = Category.objects.filter(slug=slug).first()
    if category is None or not reader.may_see(category.visible_to_groups):
        raise Http404("No such category.")
    service_rows = Service.objects.filter(category=category).values_list(
        *_ITEM_HEALTH_FIELDS, "role", "hidden"
    )
    services = [row for row in service_rows if reader.may_see(row[1])]
    store_rows = DataStore.objects.filter(category=category).values_list(
        *_ITEM_HEALTH_FIELDS, "name"
    )
    stores = [row for row in store_rows if reader.may_see(row[1])]
    shown = {row[0] for row in services}
    store_order = {row[0]: (row[2], row[3]) for row in stores}  # (position, slug) by id
    uses = [
        (service_id, store_id)
        for service_id, store_id in DataStore.used_by.through.objects.filter(
            datastore__category=category
        ).values_list("service_id", "datastore_id")
        if service_id in shown and store_id in store_order
    ]
    uses.sort(key=lambda use: store_order[use[1]])
    steps = ChecklistItem.objects.filter(category=category).order_by("position", "pk")
    checklist = list(steps.values_list("position", "text", "pk"))
    return HealthCatalog(category, services, stores, uses, checklist)


def category_health_overview(
    *, catalog: HealthCatalog, reader: Reader, scan: health.ScanInfo | None
) -> CategoryHealthOverview:
    """What a scan changes on one category's overview, as `reader` may see it (`catalog`:
    what `health_catalog` read for them), by the same rules as `category_overview` but
    without the catalog around it, in two queries:

    1. the checks that verify its checklist steps,
    2. the health checks of its services and stores,

    plus one for the daily rollups when one of its items has an SLO."""
    base = len(_ITEM_HEALTH_FIELDS)
    services = [HealthItem(*row[:base], "service", *row[base:]) for row in catalog.services]
    stores = [HealthItem(*row[:base], "data_store", name=row[base]) for row in catalog.stores]
    services_by_id = {service.pk: service for service in services}
    stores_by_id = {store.pk: store for store in stores}
    for service_id, store_id in catalog.uses:
        services_by_id[service_id].stores_used.append(stores_by_id[store_id])

    category = catalog.category
    step_checks = _checklist_checks(category, reader=reader)
    checklist = [
        _checklist_step(position, text, pk, step_checks) for position, text, pk in catalog.checklist
    ]
    return CategoryHealthOverview(
        category=category,
        services=[s for s in services if reader.staff or not s.hidden],
        data_stores=stores,
        checklist=checklist,
        health=_attach_items_health(category, services, stores, scan=scan),
    )


def _checklist_step(
    position: int, text: str, pk: int, step_checks: dict[int, list[StepCheck]]
) -> ChecklistStep:
    return ChecklistStep(position, text, pk=pk, checks=tuple(step_checks.get(pk, ())))


def _attach_items_health(
    category: Category, services: list, stores: list, *, scan
) -> health.CategoryHealth:
    """Give the category's services and data stores a reader may see (hidden services too,
    with their `stores_used`) their health and SLO, in one query (and one for the rollups
    when one has an SLO); and the category's health from theirs."""
    # By subqueries of the category's item ids rather than joins to the items: PostgreSQL
    # then filters the checks as it reads them, instead of joining every check first.
    checks = health.checks_with_maintenance().filter(
        Q(service__in=Service.objects.filter(category=category).values("pk"))
        | Q(data_store__in=DataStore.objects.filter(category=category).values("pk"))
    )
    health.attach_health(services, stores, health.card_rows(checks))
    attach_slos([*services, *stores], category=category)
    return health.category_health(health.parts_of(services, stores), scan)


def _map_edges(category: Category):
    kind = CharField()
    uses = (
        DataStore.used_by.through.objects.filter(datastore__category=category)
        .annotate(kind=Value("store", output_field=kind))
        .values_list("service_id", "datastore_id", "kind")
    )
    calls = (
        Service.talks_to.through.objects.filter(from_service__category=category)
        .annotate(kind=Value("service", output_field=kind))
        .values_list("from_service_id", "to_service_id", "kind")
    )
    return uses.union(calls, all=True)


def _checklist_checks(category: Category, *, reader: Reader) -> dict[int, list[StepCheck]]:
    """The enabled checks that verify each checklist step of the category, by step id; a
    reader who may not see hidden services does not see their checks either, nor the
    checks of services and stores (of any category) withheld from them."""
    checks = health.checks_with_maintenance().filter(checklist_items__category=category)
    if not reader.staff:
        checks = checks.exclude(service__hidden=True)
    by_step: dict[int, list[StepCheck]] = {}
    rows = checks.values_list(
        "checklist_items",
        "slug",
        "status",
        "in_maintenance",
        "detail",
        "checked_at",
        *ITEM_LIMITS,
    )
    for step, slug, status, in_maintenance, detail, checked_at, *limits in rows:
        if not reader.may_see(*limits):
            continue
        shown = shown_status(status, in_maintenance=in_maintenance)
        by_step.setdefault(step, []).append(StepCheck(slug, shown, detail, checked_at))
    return by_step


# The limits a check's item is under, its own and its category's (a check is of a
# service or of a data store: the other pair is empty).
ITEM_LIMITS = (
    "service__visible_to_groups",
    "service__category__visible_to_groups",
    "data_store__visible_to_groups",
    "data_store__category__visible_to_groups",
)


def _text_items(category: Category):
    kind, flag = CharField(), BooleanField()
    focus = (
        FocusArea.objects.filter(category=category)
        .order_by()
        .annotate(kind=Value("focus", output_field=kind), flag=Value(False, output_field=flag))
        .values_list("kind", "position", "text", "flag", "pk")
    )
    checklist = (
        ChecklistItem.objects.filter(category=category)
        .order_by()
        .annotate(kind=Value("checklist", output_field=kind), flag=Value(False, output_field=flag))
        .values_list("kind", "position", "text", "flag", "pk")
    )
    notes = (
        ConfigNote.objects.filter(category=category)
        .order_by()
        .annotate(
            kind=Value("note", output_field=kind),
            flag=ExpressionWrapper(F("is_access_touchpoint"), output_field=flag),
        )
        .values_list("kind", "position", "text", "flag", "pk")
    )
    return focus.union(checklist, notes, all=True)


def home_categories(
    *, reader: Reader, limits: Limits, with_health: bool = False, scan=LOAD_SCAN
) -> list[Category]:
    """Every category `reader` may see with its counts of what they may see (`limits`, the
    catalog's, say which items to leave out) and the icons of its shown menu services
    (`menu_icons`), in one query.

    With health, each also gets `health` (a CategoryHealth), for one more query: every
    enabled check with its item, category, role and maintenance flag; and one for the
    latest scan unless the caller passes `scan` (pages already know it).
    """
    categories = [c for c in Category.objects.for_home() if reader.may_see(c.visible_to_groups)]
    withheld = reader.withheld(limits)
    _leave_out_withheld(categories, withheld)
    _shown_menu_icons(categories, withheld)
    if not with_health:
        return categories
    if scan is LOAD_SCAN:
        scan = health.latest_scan_info()
    # Per category, per item with checks: (part, its worst shown status), as on its card.
    checked: dict[int, dict[tuple[str, int], tuple[str, str]]] = {c.pk: {} for c in categories}
    rows = health.checks_with_maintenance().values_list(
        "service_id",
        "service__category_id",
        "service__role",
        "data_store_id",
        "data_store__category_id",
        "status",
        "in_maintenance",
        *ITEM_LIMITS,
    )
    for (
        service,
        service_category,
        role,
        store,
        store_category,
        status,
        in_maintenance,
        *limits_of,
    ) in rows:
        if not reader.may_see(*limits_of):
            continue
        shown = shown_status(status, in_maintenance=in_maintenance)
        if service is not None:
            items, key, part = checked[service_category], ("service", service), role
        else:
            items, key, part = checked[store_category], ("store", store), health.STORE
        seen = items.get(key)
        items[key] = (part, health.worst([seen[1], shown]) if seen else shown)
    for category in categories:
        item_count = (
            category.visible_count
            + category.hidden_count
            + category.supporting_count
            + category.data_store_count
        )
        category.health = health.category_health(
            checked[category.pk].values(), scan, items=item_count
        )
    return categories


class MenuIcon(NamedTuple):
    """A menu service as its category's home card shows it: an icon (portal.icons)."""

    slug: str
    name: str
    icon: str


# A home card shows this many of its menu services' icons, and how many more there are.
HOME_CARD_ICONS = 8


def _shown_menu_icons(categories: list[Category], withheld) -> None:
    """Turn each category's `menu_icons` (the rows for_home read, in no order) into the
    first HOME_CARD_ICONS of its shown menu services as MenuIcons, in display order, the
    withheld ones left out; `more_menu_icons` counts the rest."""
    withheld_services = {item.pk for item in withheld if item.kind == SERVICE}
    for category in categories:
        rows = sorted(category.menu_icons or [])
        shown = [
            MenuIcon(slug, name, icon)
            for _position, slug, pk, name, icon in rows
            if pk not in withheld_services
        ]
        category.menu_icons = shown[:HOME_CARD_ICONS]
        category.more_menu_icons = len(shown) - len(category.menu_icons)


def _leave_out_withheld(categories: list[Category], withheld) -> None:
    """Take the withheld services and stores out of their categories' counts, and mark
    those categories `withheld` (the page says some items are not shown)."""
    by_id = {category.pk: category for category in categories}
    for category in categories:
        category.withheld = False
    for item in withheld:
        category = by_id.get(item.category_id)
        if category is None or item.kind not in (SERVICE, STORE):
            continue  # a withheld category, or an item of one: not listed at all
        category.withheld = True
        if item.kind == STORE:
            category.data_store_count -= 1
        elif item.role == Service.Role.SUPPORTING:
            category.supporting_count -= 1
        elif item.hidden:
            category.hidden_count -= 1
        else:
            category.visible_count -= 1


def health_report(*, reader: Reader) -> dict:
    """The latest health of every category, service and data store `reader` may see, in
    five queries: the latest scan, categories, services, data stores, and the enabled
    checks."""
    show_hidden = reader.staff
    scan = health.latest_scan_info()
    categories = [c for c in Category.objects.all() if reader.may_see(c.visible_to_groups)]
    limits = {category.pk: category.visible_to_groups for category in categories}

    def shown(item) -> bool:
        return item.category_id in limits and reader.may_see(
            item.visible_to_groups, limits[item.category_id]
        )

    services = [s for s in Service.objects.all() if shown(s)]
    stores = [s for s in DataStore.objects.all() if shown(s)]
    health.attach_health(services, stores, health.checks_with_maintenance())
    slugs = {category.pk: category.slug for category in categories}
    report_categories = []
    for category in categories:
        own_services = [s for s in services if s.category_id == category.pk]
        own_stores = [s for s in stores if s.category_id == category.pk]
        category_health = health.category_health(health.parts_of(own_services, own_stores), scan)
        report_categories.append(
            {
                "slug": category.slug,
                "status": category_health.status,
                "label": str(category_health.label),
                "last_known": category_health.last_known,
                "items": category_health.items,
                "monitored": category_health.monitored,
            }
        )
    return {
        "last_scan": health.category_health([], scan).as_dict()["last_scan"],
        "categories": report_categories,
        "services": [
            {"slug": s.slug, "category": slugs[s.category_id], **s.health.as_dict()}
            for s in services
            if show_hidden or not s.hidden
        ],
        "data_stores": [
            {"slug": s.slug, "category": slugs[s.category_id], **s.health.as_dict()} for s in stores
        ],
    }


def incidents_report(*, reader: Reader, days: int = 7) -> dict:
    """Open incidents and those resolved in the last `days` that `reader` may see, newest
    first, each with its timeline, in three queries: the incidents, their alerts, their
    updates."""
    since = timezone.now() - timedelta(days=days)
    incidents = (
        Incident.objects.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
        .select_related("category", "service", "data_store")
        .prefetch_related("alerts", "updates")
    )
    return {
        "resolved_within_days": days,
        "incidents": [
            incident.as_dict() for incident in incidents if incident_visible(incident, reader)
        ],
    }


def open_incidents(*, reader: Reader, category=None) -> list[Incident]:
    """Open incidents the reader may see (of one category's root causes), each with its
    latest update's text (`latest_text`), in one query."""
    incidents = (
        Incident.objects.open()
        .select_related("category", "service", "data_store")
        .order_by("opened_at", "pk")
    )
    if category is not None:
        incidents = incidents.filter(category=category)
    latest = IncidentUpdate.objects.filter(incident=OuterRef("pk")).order_by("-at", "-pk")
    incidents = incidents.annotate(latest_text=Subquery(latest.values("text")[:1]))
    return [incident for incident in incidents if incident_visible(incident, reader)]


def shown_items(model, reader: Reader, categories: dict[int, Category], **filters) -> list:
    """The services or data stores (`model`) a reader may see, of the `categories` (by id)
    they may see: hidden services are for staff only, limited items for their groups."""
    rows = model.objects.filter(category_id__in=categories, **filters)
    return [row for row in rows if item_visible(row, categories[row.category_id], reader)]


# Each item's results per day, summed over its checks: {(kind, pk): {day: (total, down)}}.
DailyCounts = dict[tuple[str, int], dict[date, item_status.Counts]]


def daily_counts(*, days: int, today: date, item=None, category=None) -> DailyCounts:
    """The results of each item's checks (or of one item's, or one category's items') per
    local day over the last `days` days, today included, from the rollups: one GROUP BY."""
    rows = HealthRollup.objects.filter(
        hour__gte=rollups.day_start(today - timedelta(days=days - 1)),
        hour__lt=rollups.day_start(today + timedelta(days=1)),
    )
    if category is not None:
        rows = rows.filter(
            Q(health_check__service__category=category)
            | Q(health_check__data_store__category=category)
        )
    if isinstance(item, Service):
        rows = rows.filter(health_check__service=item)
    elif item is not None:
        rows = rows.filter(health_check__data_store=item)
    item_and_day = ["health_check__service_id", "health_check__data_store_id", "day"]
    rows = (
        rows.order_by()
        .annotate(day=TruncDate("hour", tzinfo=timezone.get_current_timezone()))
        .values(*item_and_day)
        .annotate(summed_total=Sum(rollups.RESULTS), summed_down=Sum("down"))
        .values_list(*item_and_day, "summed_total", "summed_down")
    )
    counts: DailyCounts = {}
    for service, store, day, total, down in rows:
        key = ("service", service) if service else ("data_store", store)
        counts.setdefault(key, {})[day] = (total, down)
    return counts


def attach_slos(items: list, *, category, today: date | None = None) -> None:
    """Give each service and data store (of `category`) its `slo` (an Slo, or None without a
    target), from the rollups over the longest window: one query, none when no item has a
    target."""
    for item in items:
        item.slo = None
    promising = [item for item in items if item.slo_target is not None]
    if not promising:
        return
    today = today or timezone.localdate()
    longest = max(item.slo_window_days for item in promising)
    counts = daily_counts(days=longest, today=today, category=category)
    for item in promising:
        item.slo = item_status.slo_of(item, counts.get(_key_of(item), {}), today=today)


@dataclass
class StatusReport:
    """What /api/status/ shows: the status page's categories and items with what the
    latest scan says of each."""

    scan: health.ScanInfo | None
    categories: list[item_status.StatusCategory]
    history: item_status.StatusHistory
    now: dict[tuple[str, int], item_status.ItemNow]
    incidents: list[Incident]
    today: date
    days: int = item_status.STATUS_DAYS

    def as_dict(self) -> dict:
        return {
            "last_scan": health.category_health([], self.scan).as_dict()["last_scan"],
            "days": self.days,
            "today": self.today.isoformat(),
            "incidents": [
                {
                    "id": incident.pk,
                    "title": incident.title,
                    "category": incident.category.slug,
                    "cause": incident.cause,
                    "state": incident.state,
                    "opened_at": incident.opened_at.isoformat(),
                    "latest_update": incident.latest_text,
                }
                for incident in self.incidents
            ],
            "categories": [
                {
                    "slug": category.slug,
                    "name": category.name,
                    "items": [
                        item.as_dict(self.now[item.key], self.history) for item in category.items
                    ],
                }
                for category in self.categories
            ],
        }


def status_history(*, today: date) -> item_status.StatusHistory:
    """Every item's bars and SLO results before today, in three queries: the rollups summed
    per item and day, and the services' and data stores' SLO windows."""
    yesterday = today - timedelta(days=1)
    counts = daily_counts(days=item_status.STATUS_DAYS - 1, today=yesterday)
    return item_status.status_history(counts, dict(_slo_windows()), today=today)


def status_history_layout() -> str:
    """A digest of what `status_history` draws from besides the rollups and the day: the
    item each check counts for and the items' SLO windows, in three queries of a few
    columns. Most catalog writes (a name, a summary, a limit, a new item) leave it as it
    was, and with it the history."""
    checks = HealthCheck.objects.order_by("pk").values_list("pk", "service_id", "data_store_id")
    layout = repr((list(checks), _slo_windows())).encode()
    return hashlib.blake2b(layout, digest_size=16).hexdigest()


def _slo_windows() -> list[tuple[tuple[str, int], int]]:
    """Each item with an SLO target and its window in days, in a stable order."""
    return [
        ((kind, pk), window)
        for kind, model in (("service", Service), ("data_store", DataStore))
        for pk, window in model.objects.exclude(slo_target=None)
        .order_by("pk")
        .values_list("pk", "slo_window_days")
    ]


# What the status page reads of a service or data store: what it shows, and what
# item_visible asks.
_STATUS_ITEM_FIELDS = ["category_id", "slug", "name", "slo_target", "slo_window_days"]
_VISIBILITY_FIELDS = ["visible_to_groups"]


def status_listing(
    *, reader: Reader, history: item_status.StatusHistory
) -> list[item_status.StatusCategory]:
    """Every category the reader may see (some perhaps with no item), with the items of it
    they may see, each with its days before today from `history` (`status_history`), in
    three queries: categories, services and data stores. What it lists changes only with
    the catalog, so the page keeps it for the day."""
    categories = [c for c in Category.objects.all() if reader.may_see(c.visible_to_groups)]
    by_id = {category.pk: category for category in categories}
    shown = {
        category.pk: item_status.StatusCategory(
            category.slug, category.name, category.get_absolute_url()
        )
        for category in categories
    }
    fields = [*_STATUS_ITEM_FIELDS, *_VISIBILITY_FIELDS]
    for kind, model, extra in (("service", Service, ["hidden"]), ("data_store", DataStore, [])):
        rows = model.objects.filter(category_id__in=by_id).only(*fields, *extra)
        for row in rows:
            if item_visible(row, by_id[row.category_id], reader):
                shown[row.category_id].items.append(
                    item_status.StatusItem(
                        kind=kind,
                        pk=row.pk,
                        slug=row.slug,
                        name=row.name,
                        slo_target=row.slo_target,
                        slo_window_days=row.slo_window_days,
                        past=history.of((kind, row.pk)).totals,
                    )
                )
    return list(shown.values())


def item_statuses() -> dict[tuple[str, int], health.ItemHealth]:
    """Each item's status now (ItemHealth.status_of) from its enabled checks, in one query
    of a few columns: what the status page shows of the latest scan. Items of the same
    status share one ItemHealth (a page has thousands): read them, never change them."""
    rows = health.item_rows(health.checks_with_maintenance().order_by(), health.STATUS_FIELDS)
    checks: dict[tuple[str, int], list] = {}
    for row in rows:
        key = ("service", row.service_id) if row.service_id else ("data_store", row.data_store_id)
        checks.setdefault(key, []).append(row)
    shared: dict[tuple[str, str], health.ItemHealth] = {}
    statuses = {}
    for key, item_checks in checks.items():
        found = health.ItemHealth.status_of(item_checks)
        statuses[key] = shared.setdefault((found.status, found.unconfirmed), found)
    return statuses


def hours_counts(*, since: datetime, until: datetime) -> dict[tuple[str, int], item_status.Counts]:
    """Each item's results in the rollups of the hours from `since` to `until`, summed
    over its checks: one GROUP BY."""
    rows = (
        HealthRollup.objects.filter(hour__gte=since, hour__lt=until)
        .order_by()
        .values("health_check__service_id", "health_check__data_store_id")
        .annotate(summed_total=Sum(rollups.RESULTS), summed_down=Sum("down"))
        .values_list(
            "health_check__service_id",
            "health_check__data_store_id",
            "summed_total",
            "summed_down",
        )
    )
    return {
        ("service", service) if service else ("data_store", store): (total, down)
        for service, store, total, down in rows
    }


def status_now(
    items: Iterable[item_status.StatusItem],
    *,
    today: date,
    today_counts: dict[tuple[str, int], item_status.Counts] | None = None,
) -> dict[tuple[str, int], item_status.ItemNow]:
    """What the latest scan says of each of `items`: its status and today's bar, in two
    queries: the enabled checks' statuses, and today's rollups summed per item (unless
    given, `today_counts`)."""
    statuses = item_statuses()
    if today_counts is None:
        day = rollups.day_start(today)
        today_counts = hours_counts(since=day, until=day + timedelta(days=1))
    unknown = health.ItemHealth()
    words = item_status.StatusWords()
    return {
        item.key: item_status.item_now(
            item, statuses.get(item.key, unknown), today, today_counts.get(item.key), words
        )
        for item in items
    }


def status_report(
    *,
    reader: Reader,
    today: date | None = None,
    scan=LOAD_SCAN,
    history: item_status.StatusHistory | None = None,
) -> StatusReport:
    """Every category and item the reader may see, with its status, its SLO and a bar per
    day of the last STATUS_DAYS days, and the open incidents, in seven queries whatever
    the catalog's size: the latest scan (unless passed), categories, services, data
    stores, the enabled checks' statuses, today's rollups summed per item, and the open
    incidents. The days before today come from `history` (`status_history`, cached by the
    page), or cost its three queries more."""
    if scan is LOAD_SCAN:
        scan = health.latest_scan_info()
    today = today or timezone.localdate()
    if history is None or history.today != today:
        history = status_history(today=today)
    categories = [
        category for category in status_listing(reader=reader, history=history) if category.items
    ]
    return StatusReport(
        scan=scan,
        categories=categories,
        history=history,
        now=status_now((item for c in categories for item in c.items), today=today),
        incidents=open_incidents(reader=reader),
        today=today,
    )


def status_item(*, category: str, slug: str, reader: Reader | None):
    """The service or data store `slug` of `category` for its badges and history, if the
    reader may see it: hidden services for staff only, limited items for their groups, and
    for a reader who is not a member (None) only unlimited items marked public. Http404
    otherwise (never saying it exists)."""
    as_reader = reader or Reader(staff=False)
    found = Category.objects.filter(slug=category).first()
    if found is not None and as_reader.may_see(found.visible_to_groups):
        filters = {"slug": slug} if reader else {"slug": slug, "public_badge": True}
        for model in (Service, DataStore):
            items = shown_items(model, as_reader, {found.pk: found}, **filters)
            if items:
                items[0].category = found
                return items[0]
    raise Http404("No such item.")


def item_health(item) -> health.ItemHealth:
    """One item's current health from its enabled checks, in one query."""
    checks = health.checks_with_maintenance()
    if isinstance(item, Service):
        checks = checks.filter(service=item)
    else:
        checks = checks.filter(data_store=item)
    return health.ItemHealth.from_checks(list(checks))


def item_history(item, *, days: int, today: date | None = None) -> dict:
    """The item's uptime per day over the last `days` days, oldest first, and its SLO, in
    one query (over its SLO window when that is longer)."""
    today = today or timezone.localdate()
    counts = daily_counts(days=max(days, item.slo_window_days), today=today, item=item)
    dates = item_status.calendar(days=days, today=today)
    item_counts = counts.get(_key_of(item), {})
    slo = item_status.slo_of(item, item_counts, today=today)
    return {
        "category": item.category.slug,
        "item": item.slug,
        "slo": slo.as_dict() if slo else None,
        "days": [day.as_dict() for day in item_status.days_of(item_counts, dates)],
    }


def item_uptime(item, *, days: int, today: date | None = None) -> float | None:
    """The item's uptime over the last `days` days (its checks' results together), in one
    query."""
    today = today or timezone.localdate()
    counts = daily_counts(days=days, today=today, item=item)
    return item_status.uptime_of(counts.get(_key_of(item), {}).values())


def _key_of(item) -> tuple[str, int]:
    """How rollups name a service or data store (a model, a HealthItem or an overview's
    row)."""
    if isinstance(item, HealthItem):
        return (item.kind, item.pk)
    return ("service" if isinstance(item, Service | ServiceRow) else "data_store", item.pk)
