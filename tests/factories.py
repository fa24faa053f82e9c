"""Builders for catalog rows that tests need in bulk."""

from django.test import Client
from django.utils import timezone

from portal.models import (
    AlertEvent,
    Category,
    ChecklistItem,
    ConfigNote,
    DataStore,
    FocusArea,
    HealthCheck,
    HealthRollup,
    Scan,
    Service,
)
from portal.models.health import SPARKLINE_POINTS
from portal.rollups import day_start
from portal.sparklines import Sparkline
from portal.state_cache import page_state_moved


def make_category(slug="big", *, services=0, stores=0, items=0, hidden_every=0):
    """A category with `services` services (every 5th supporting), `stores` data stores
    each used by two services, service-to-service calls, and `items` of each text list."""
    category = Category.objects.create(
        slug=slug, name=slug.title(), title=f"{slug.title()} Guide", summary="A large category"
    )
    made_services = Service.objects.bulk_create(
        Service(
            category=category,
            slug=f"{slug}-service-{n}",
            name=f"Service {n}",
            summary=f"Service number {n}",
            role=Service.Role.SUPPORTING if n % 5 == 4 else Service.Role.MENU,
            hidden=bool(hidden_every) and n % hidden_every == 0,
            location=f"/svc-{n}",
            position=n,
        )
        for n in range(services)
    )
    made_stores = DataStore.objects.bulk_create(
        DataStore(
            category=category,
            slug=f"{slug}-store-{n}",
            name=f"Store {n}",
            kind=DataStore.Kind.RELATIONAL,
            description=f"Store number {n}",
            position=n,
        )
        for n in range(stores)
    )
    if made_services:
        DataStore.used_by.through.objects.bulk_create(
            DataStore.used_by.through(datastore=store, service=made_services[(n + k) % services])
            for n, store in enumerate(made_stores)
            for k in (0, 1)
        )
        Service.talks_to.through.objects.bulk_create(
            Service.talks_to.through(
                from_service=service, to_service=made_services[(n + 1) % services]
            )
            for n, service in enumerate(made_services)
        )
    for model in (FocusArea, ChecklistItem):
        model.objects.bulk_create(
            model(category=category, position=n, text=f"{model.__name__} {n}") for n in range(items)
        )
    ConfigNote.objects.bulk_create(
        ConfigNote(category=category, position=n, text=f"Note {n}", is_access_touchpoint=n % 2 == 0)
        for n in range(items)
    )
    return category


def client_for(user) -> Client:
    """A test client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def make_checks(category, *, status="up", latency_ms=42.0):
    """A health check with a full sparkline and uptimes for every service and data store
    of `category`, as scans would have left them."""
    latencies = [latency_ms + (n % 7) * 3 for n in range(SPARKLINE_POINTS)]
    sparkline = Sparkline.from_latencies(latencies)
    state = {
        "status": status,
        "latency_ms": latency_ms,
        "uptime_24h": 99.5,
        "uptime_7d": 99.9,
        "recent_latencies": latencies,
        "sparkline_points": sparkline.points,
        "sparkline_peak_ms": sparkline.peak_ms,
        "checked_at": timezone.now(),
    }
    return HealthCheck.objects.bulk_create(
        [
            HealthCheck(slug=f"{service.slug}-http", service=service, target="/health", **state)
            for service in category.services.all()
        ]
        + [
            HealthCheck(
                slug=f"{store.slug}-tcp", data_store=store, kind="tcp", target="db:5432", **state
            )
            for store in category.data_stores.all()
        ]
    )


def make_finished_scan(*, at=None, **counts):
    """A finished scan, as if a worker had just run one (which pages follow at once)."""
    at = at or timezone.now()
    scan = Scan.objects.create(
        state=Scan.State.FINISHED, started_at=at, finished_at=at, duration_ms=120, **counts
    )
    page_state_moved()
    return scan


def catalog_file_data(*, categories: int, services: int, stores: int, items: int = 3) -> dict:
    """A catalog file's data (portal.catalog_io's format) with `categories` categories of
    `services` services and `stores` data stores each: every service calls the one before
    it, every store is used by two services, and `items` of each text list."""
    entries = []
    for c in range(categories):
        slug = f"cat-{c}"
        entries.append(
            {
                "slug": slug,
                "name": f"Category {c}",
                "title": f"Category {c} Guide",
                "summary": "A generated category",
                "position": c,
                "services": [
                    {
                        "slug": f"{slug}-service-{n}",
                        "name": f"Service {n}",
                        "summary": f"Service number {n}",
                        "role": "supporting" if n % 5 == 4 else "menu",
                        "location": f"/{slug}/svc-{n}",
                        "talks_to": [f"{slug}-service-{n - 1}"] if n else [],
                        **({"slo_target": 99.0} if n % 3 == 0 else {}),
                    }
                    for n in range(services)
                ],
                "data_stores": [
                    {
                        "slug": f"{slug}-store-{n}",
                        "name": f"Store {n}",
                        "kind": "relational",
                        "description": f"Store number {n}",
                        "used_by": [f"{slug}-service-{n % services}", f"{slug}-service-0"],
                    }
                    for n in range(stores)
                ],
                "focus_areas": [f"Focus {n}" for n in range(items)],
                "checklist": [f"Check `{n}`" for n in range(items)],
                "config_notes": [
                    {"text": f"Note {n}", "access_touchpoint": n % 2 == 0} for n in range(items)
                ],
            }
        )
    return {"version": 1, "categories": entries}


def change_every_row(data: dict) -> None:
    """Change catalog_file_data's data in place: a new text for every service and store,
    new links for each (a service calls the next one), a public badge and an SLO for each,
    and one more checklist item."""
    for category in data["categories"]:
        category["checklist"].append("One more check")
        services = category["services"]
        for service, after in zip(services, [*services[1:], None], strict=True):
            service["summary"] += " (changed)"
            service["talks_to"] = [after["slug"]] if after else []
            service.update(public_badge=True, slo_target=99.5, slo_window_days=7)
        for store in category["data_stores"]:
            store["description"] += " (changed)"
            store.update(public_badge=True, slo_target=99.9)
            store["used_by"] = store["used_by"][:1]


def make_gitlab_down_alert() -> AlertEvent:
    """An alert that the seed catalog's GitLab went down."""
    gitlab = Service.objects.get(slug="gitlab")
    return AlertEvent.objects.create(
        event="down",
        status="down",
        category=gitlab.category,
        service=gitlab,
        item="gitlab",
        item_name="GitLab",
        cause="gitlab",
    )


def day_rollup(check, day, *, total: int, down: int) -> HealthRollup:
    """An unsaved rollup of one check's results on one local day, as compaction leaves it."""
    return HealthRollup(
        health_check=check, hour=day_start(day), hours=24, up=total - down, down=down
    )
