"""The catalog's JSON API: the same figures as the pages, for scripts (a CI job checking
health before a deploy). Part of the portal's API (aixops.api), which describes it in the
OpenAPI schema from these types; approved members only (accounts.access), by session or
personal API token."""

from django.http import Http404, HttpResponse
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from typing_extensions import TypedDict

from accounts.access import ApiAccess
from aixops.api import REFUSALS, InvalidInput, Refusal

from .pages import cached_json, cached_status_history, page_state
from .pins import pinned_tools
from .search import QUERY_MAX_LENGTH, RESULTS_DEFAULT, RESULTS_MAX, reader_and_index, search
from .selectors import (
    category_overview,
    health_report,
    home_categories,
    incidents_report,
    item_history,
    status_item,
    status_report,
)
from .status import HISTORY_MAX_DAYS, STATUS_DAYS
from .visibility import Limits, Reader, catalog_limits, reader_for

router = Router(auth=ApiAccess(), tags=["catalog"])


WITHHELD = "Some of its services or data stores are limited to groups you are not in."
LIMITED_TO = (
    "For staff: the Keycloak groups (full paths) this is limited to, empty when every "
    "member sees it. Always null for members."
)


class CategoryCounts(Schema):
    visible_apps: int
    hidden_apps: int
    supporting: int
    data_stores: int
    checklist_items: int
    access_touchpoints: int


class CategorySummary(Schema):
    slug: str
    name: str
    title: str
    summary: str
    url: str
    counts: CategoryCounts
    withheld: bool = Field(description=WITHHELD)
    visible_to_groups: list[str] | None = Field(description=LIMITED_TO)


class CategoryList(Schema):
    categories: list[CategorySummary]


class LastScan(Schema):
    id: int
    finished_at: str  # ISO 8601, as sent before the schema existed
    stale: bool


class CategoryHealth(Schema):
    status: str
    label: str
    last_known: str
    items: int
    monitored: int
    last_scan: LastScan | None


class ItemHealth(Schema):
    status: str
    unconfirmed: str | None
    latency_ms: int | float | None
    uptime_24h: float | None
    uptime_7d: float | None
    detail: str
    depends_on_down: list[str]


class Slo(Schema):
    """Uptime against the item's target over its window; the error budget is 100 - target,
    `budget_left` the percent of it not spent (below zero once missed)."""

    target: float
    window_days: int
    uptime: float | None
    budget_left: float | None
    met: bool | None


class OverviewCounts(CategoryCounts):
    items: int


class OverviewService(Schema):
    slug: str
    name: str
    summary: str
    role: str
    hidden: bool
    location: str
    access: str
    icon: str = Field(description="Its logo, /static/portal/icons/<icon>.svg; empty: a monogram")
    data_stores: list[str]
    talks_to: list[str]
    visible_to_groups: list[str] | None = Field(description=LIMITED_TO)
    health: ItemHealth
    slo: Slo | None


class OverviewDataStore(Schema):
    slug: str
    name: str
    kind: str
    description: str
    remark: str
    used_by: list[str]
    visible_to_groups: list[str] | None = Field(description=LIMITED_TO)
    health: ItemHealth
    slo: Slo | None


class ConfigNote(Schema):
    text: str
    access_touchpoint: bool


class CategoryOverview(Schema):
    slug: str
    name: str
    title: str
    summary: str
    description: str
    last_scan: LastScan | None
    health: CategoryHealth
    counts: OverviewCounts
    withheld: bool = Field(description=WITHHELD)
    visible_to_groups: list[str] | None = Field(description=LIMITED_TO)
    services: list[OverviewService]
    data_stores: list[OverviewDataStore]
    focus_areas: list[str]
    checklist: list[str]
    config_notes: list[ConfigNote]


class CategoryStatus(Schema):
    slug: str
    status: str
    label: str
    last_known: str
    items: int
    monitored: int


class ItemStatus(ItemHealth):
    slug: str
    category: str


class AlertEntry(Schema):
    """A state change of the incident's cause."""

    at: str  # ISO 8601
    event: str
    status: str
    affected: list[str]


class UpdateEntry(Schema):
    """An admin's update: the state they moved the incident to, and what they said."""

    at: str  # ISO 8601
    update: str
    text: str


class IncidentReport(Schema):
    id: int
    title: str
    category: str
    cause: str
    affected: list[str]
    state: str
    opened_at: str  # ISO 8601
    resolved_at: str | None
    timeline: list[AlertEntry | UpdateEntry]


class IncidentList(Schema):
    resolved_within_days: int
    incidents: list[IncidentReport]


class HealthReport(Schema):
    last_scan: LastScan | None
    categories: list[CategoryStatus]
    services: list[ItemStatus]
    data_stores: list[ItemStatus]


# A TypedDict, not a Schema: /api/status/ has 90 of them per item, and pydantic checks a
# dict many times faster than it builds a model (a Schema also reads each through ninja's
# attribute getter). typing_extensions' for pydantic on Python < 3.12.
class DayUptime(TypedDict):
    day: str  # ISO 8601 date, in the portal's time zone
    uptime: float | None  # percent of results not down; null: no results that day


class StatusItem(Schema):
    kind: str  # service or data_store
    slug: str
    name: str
    status: str
    label: str
    slo: Slo | None
    days: list[DayUptime]


class StatusCategory(Schema):
    slug: str
    name: str
    items: list[StatusItem]


class OpenIncident(Schema):
    id: int
    title: str
    category: str
    cause: str
    state: str
    opened_at: str  # ISO 8601
    latest_update: str | None


class StatusPage(Schema):
    last_scan: LastScan | None
    days: int
    today: str  # ISO 8601 date: the last day of each item's `days`
    incidents: list[OpenIncident]
    categories: list[StatusCategory]


class ItemHistory(Schema):
    category: str
    item: str
    slo: Slo | None
    days: list[DayUptime]


class PinnedService(Schema):
    slug: str
    name: str
    category: str = Field(description="Its category's slug.")
    url: str = Field(description="The tool; its category's page when it has no address.")
    health: ItemHealth


class PinList(Schema):
    pins: list[PinnedService]


class SearchResult(Schema):
    kind: str  # category, service, data_store, checklist_item or config_note
    kind_label: str  # in the caller's language
    name: str  # a checklist item's or note's: its text
    summary: str
    category: str  # the slug of the category it is in (a category's: its own)
    category_name: str
    url: str = Field(description="Where the portal shows it: its category page, at its anchor.")
    tool_url: str | None = Field(description="A service's own address; null for the rest.")


class SearchResults(Schema):
    query: str
    total: int = Field(description="How many matched in all; `results` holds the best.")
    results: list[SearchResult]


SLUG = r"^[-a-zA-Z0-9_]+$"


def _reader(request) -> tuple[Reader, Limits]:
    """The caller as a reader of the catalog (a token's is its member's), and the limits:
    read afresh, the API is not cached."""
    limits = catalog_limits()
    return reader_for(request.user, paths=limits.paths), limits


def _json(body: str) -> HttpResponse:
    """A cached answer, already checked against its schema when it was made."""
    return HttpResponse(body, content_type="application/json; charset=utf-8")


@router.api_operation(
    ["GET", "HEAD"],
    "/categories/",
    response={200: CategoryList, **REFUSALS},
    url_name="api-categories",
    summary="Every category with its counts",
)
def categories(request):
    reader, limits = _reader(request)
    return {
        "categories": [
            {
                "slug": category.slug,
                "name": category.name,
                "title": category.title,
                "summary": category.summary,
                "url": request.build_absolute_uri(category.get_absolute_url()),
                "counts": {
                    "visible_apps": category.visible_count,
                    "hidden_apps": category.hidden_count,
                    "supporting": category.supporting_count,
                    "data_stores": category.data_store_count,
                    "checklist_items": category.checklist_count,
                    "access_touchpoints": category.touchpoint_count,
                },
                "withheld": category.withheld,
                "visible_to_groups": category.visible_to_groups if reader.staff else None,
            }
            for category in home_categories(reader=reader, limits=limits)
        ]
    }


@router.api_operation(
    ["GET", "HEAD"],
    "/categories/{slug:slug}/",
    response={200: CategoryOverview, 404: Refusal, **REFUSALS},
    url_name="api-category",
    summary="One category's overview with its health",
)
def category(request, slug: str = Path(..., pattern=r"^[-a-zA-Z0-9_]+$", examples=["devops"])):
    def build(reader, _limits, scan) -> str:
        overview = category_overview(slug=slug, reader=reader, scan=scan)
        return CategoryOverview.model_validate(overview.as_dict()).model_dump_json()

    try:
        return _json(cached_json(f"category:{slug}", request.user, build))
    except Http404:
        return Status(404, {"error": "no such category"})


@router.api_operation(
    ["GET", "HEAD"],
    "/health/",
    response={200: HealthReport, **REFUSALS},
    url_name="api-health",
    summary="The latest status of every category, service and data store",
)
def health(request):
    def build(reader, _limits, scan) -> str:
        return HealthReport.model_validate(health_report(reader=reader)).model_dump_json()

    return _json(cached_json("health", request.user, build))


@router.api_operation(
    ["GET", "HEAD"],
    "/incidents/",
    response={200: IncidentList, **REFUSALS},
    url_name="api-incidents",
    summary="Open incidents and those resolved in the last 7 days, with their timelines",
)
def incidents(request):
    return incidents_report(reader=_reader(request)[0])


@router.api_operation(
    ["GET", "HEAD"],
    "/status/",
    response={200: StatusPage, **REFUSALS},
    url_name="api-status",
    summary="What the status page shows: each item's status, SLO and 90 days of uptime",
)
def status(request):
    # Cached as the page is, per scan; its days end today, whose bounds are local.
    today = timezone.localdate()

    def build(reader, _limits, scan) -> str:
        history = cached_status_history(today=today, revision=page_state().revision)
        report = status_report(reader=reader, today=today, scan=scan, history=history)
        return StatusPage.model_validate(report.as_dict()).model_dump_json()

    what = f"status:{today.isoformat()}:{timezone.get_current_timezone_name()}"
    return _json(cached_json(what, request.user, build))


@router.api_operation(
    ["GET", "HEAD"],
    "/items/{category}/{item}/history/",
    response={200: ItemHistory, 404: Refusal, 422: InvalidInput, **REFUSALS},
    url_name="api-item-history",
    summary="One service's or data store's uptime per day, and its SLO",
)
def history(
    request,
    category: str = Path(..., pattern=SLUG, examples=["devops"]),
    item: str = Path(..., pattern=SLUG, examples=["gitlab"]),
    days: int = Query(
        STATUS_DAYS, ge=1, le=HISTORY_MAX_DAYS, description="How many days, today included"
    ),
):
    try:
        found = status_item(category=category, slug=item, reader=_reader(request)[0])
    except Http404:
        return Status(404, {"error": "no such item"})
    return item_history(found, days=days)


@router.api_operation(
    ["GET", "HEAD"],
    "/pins/",
    response={200: PinList, **REFUSALS},
    url_name="api-pins",
    summary="The services you pinned to your home page, in your order, with their health",
)
def pins(request):
    reader = _reader(request)[0]
    return {
        "pins": [
            {
                "slug": service.slug,
                "name": service.name,
                "category": service.category.slug,
                "url": request.build_absolute_uri(
                    service.location or service.category.get_absolute_url()
                ),
                "health": service.health.as_dict(),
            }
            for service in pinned_tools(user=request.user, reader=reader).shown
        ]
    }


@router.api_operation(
    ["GET", "HEAD"],
    "/search/",
    response={200: SearchResults, 422: InvalidInput, **REFUSALS},
    url_name="api-search",
    summary="Categories, services, data stores, checklist items and notes matching a query",
)
def search_catalog(
    request,
    q: str = Query(
        "",
        max_length=QUERY_MAX_LENGTH,
        description="Words of a name or text; case does not matter. Empty finds nothing.",
        examples=["gitlab"],
    ),
    limit: int = Query(RESULTS_DEFAULT, ge=1, le=RESULTS_MAX, description="At most this many"),
):
    """Ranked as the top bar's search ranks them: a name that is the query, starts with
    it, has a word starting with it, holds it; then a slug; then other text."""
    reader, index = reader_and_index(request.user)
    found = search(q, reader=reader, index=index, limit=limit)
    absolute = request.build_absolute_uri
    return {
        "query": found.query,
        "total": found.total,
        "results": [
            {
                "kind": entry.kind,
                "kind_label": entry.kind_label,
                "name": entry.name,
                "summary": entry.summary,
                "category": entry.category_slug,
                "category_name": entry.category_name,
                "url": absolute(entry.place),
                "tool_url": absolute(entry.tool) if entry.tool else None,
            }
            for entry in found.results
        ],
    }
