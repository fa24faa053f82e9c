"""Reads of the catalog for pages and the API, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import BooleanField, CharField, ExpressionWrapper, F, Q, Value
from django.http import Http404
from django.utils import timezone

from . import health
from .diagram import ArchitectureMap, layout_architecture_map
from .models import (
    Category,
    ChecklistItem,
    ConfigNote,
    DataStore,
    FocusArea,
    HealthStatus,
    Incident,
    Service,
)
from .models.health import shown_status
from .visibility import SERVICE, STORE, Limits, Reader, incident_visible

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


@dataclass
class CategoryOverview:
    """Everything the category overview page and its JSON show, counts computed from it."""

    category: Category
    categories: list[Category]
    services: list[Service]
    data_stores: list[DataStore]
    focus_areas: list[TextItem]
    checklist: list[ChecklistStep]
    config_notes: list[TextItem]
    visible_count: int
    hidden_count: int
    supporting_count: int
    architecture_map: ArchitectureMap
    health: health.CategoryHealth
    # Some of its services or data stores are limited to groups the reader is not in.
    withheld: bool = False
    # Read by staff: limited items say to which groups (members are never told).
    staff: bool = False

    def limit_of(self, item) -> list[str] | None:
        """The groups an item is limited to, for staff; None for members."""
        return item.visible_to_groups if self.staff else None

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
                    "data_stores": [store.slug for store in service.stores_used],
                    "talks_to": [other.slug for other in service.talks_to_shown],
                    "visible_to_groups": self.limit_of(service),
                    "health": service.health.as_dict(),
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

    Plus one for the latest scan unless the caller passes `scan` (pages already know it).
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

    stored_services = list(Service.objects.filter(category=category))
    stored_stores = list(DataStore.objects.filter(category=category))
    all_services = [s for s in stored_services if reader.may_see(s.visible_to_groups)]
    data_stores = [s for s in stored_stores if reader.may_see(s.visible_to_groups)]
    withheld = len(all_services) + len(data_stores) < len(stored_services) + len(stored_stores)

    services_by_id = {service.pk: service for service in all_services}
    stores_by_id = {store.pk: store for store in data_stores}
    for service in all_services:
        service.stores_used = []
        service.talks_to_shown = []
    store_users: dict[int, list[Service]] = {store.pk: [] for store in data_stores}
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
            texts[kind].append(
                ChecklistStep(position, text, pk=pk, checks=tuple(step_checks.get(pk, ())))
            )
        else:
            texts[kind].append(TextItem(position, text, bool(touchpoint)))
    for items in texts.values():
        items.sort(key=lambda item: item.position)

    checks = health.checks_with_maintenance().filter(
        Q(service__category=category) | Q(data_store__category=category)
    )
    health.attach_health(all_services, data_stores, checks)
    category_health = health.category_health(health.parts_of(all_services, data_stores), scan)

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
        architecture_map=layout_architecture_map(shown, data_stores),
        health=category_health,
        withheld=withheld,
        staff=reader.staff,
    )


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
    catalog's, say which items to leave out), in one query.

    With health, each also gets `health` (a CategoryHealth), for one more query: every
    enabled check with its item, category, role and maintenance flag; and one for the
    latest scan unless the caller passes `scan` (pages already know it).
    """
    categories = [c for c in Category.objects.for_home() if reader.may_see(c.visible_to_groups)]
    _leave_out_withheld(categories, reader.withheld(limits))
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
