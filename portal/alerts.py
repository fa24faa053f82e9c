"""Alerts: which real status changes a scan found, folded along dependencies, and who
hears of them.

A scan calls `alerts_record` in its own transaction, after its checks have taken the
probes' outcomes (flap control is theirs). An item (a service or data store) is alerted
when its confirmed status differs from the one last alerted (`reported_status` on its
checks), not from the previous scan's: so

- an item in a maintenance window sends nothing, whatever it does;
- after the window, an item still down is alerted down, and one that recovered is not
  alerted at all unless it had been reported down before;
- a first settled status of up is recorded silently (nothing was ever reported).

When an item and something it depends on (a data store it uses, a service it talks to)
change the same way in the same scan, one alert goes out for the root cause with the
dependents in `affected`. A root cause's down alert opens its incident, its recovery
resolves it (`incidents_follow`). Each alert is written with one delivery row per channel
that wants it, and a delivery task per row is queued through the outbox: sent once the
scan commits, never inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from aixops.outbox import Job, queue_after_commit

from .health import worst
from .models import (
    AlertEvent,
    Channel,
    DataStore,
    Delivery,
    HealthCheck,
    HealthStatus,
    Incident,
    IncidentState,
    Scan,
    Service,
)

DELIVER_TASK = "portal.tasks.deliver_alert"

SERVICE, STORE = "service", "data_store"
Item = tuple[str, int]  # (SERVICE or STORE, primary key)


@dataclass
class Change:
    """An item's confirmed status that differs from what was last alerted."""

    event: str
    status: str
    detail: str


def item_of(row: HealthCheck | AlertEvent | Incident) -> Item:
    """The service or data store a check, alert or incident is about."""
    return (SERVICE, row.service_id) if row.service_id else (STORE, row.data_store_id)


def changes_of(
    checks: Iterable[HealthCheck], in_maintenance: dict[int, bool]
) -> dict[Item, Change]:
    """The alertable changes among `checks` (their status just recorded), by item; moves
    each changed item's checks' `reported_status` along (the scan saves it)."""
    checks = list(checks)
    if all(check.status == check.reported_status for check in checks):
        return {}  # all as last alerted, as in most scans: told without grouping them
    by_item: dict[Item, list[HealthCheck]] = {}
    for check in checks:
        by_item.setdefault(item_of(check), []).append(check)
    changes = {}
    for item, item_checks in by_item.items():
        if all(check.status == check.reported_status for check in item_checks):
            continue  # as last alerted: most items in most scans, told without ranking
        status = worst(check.status for check in item_checks)
        reported = worst(check.reported_status for check in item_checks)
        if status in (HealthStatus.UNKNOWN, reported) or any(
            in_maintenance[check.pk] for check in item_checks
        ):
            continue
        for check in item_checks:
            check.reported_status = status
        if reported == HealthStatus.UNKNOWN and status == HealthStatus.UP:
            continue  # the first settled status: nothing was reported that it ends
        deciding = next(check for check in item_checks if check.status == status)
        event = AlertEvent.Event.RECOVERED if status == HealthStatus.UP else status
        changes[item] = Change(event=event, status=status, detail=deciding.detail)
    return changes


def roots_of(changes: dict[Item, Change], depends_on: dict[Item, set[Item]]) -> dict[Item, Item]:
    """Each changed item's root cause: following what it depends on through items that
    changed the same way, the first one that depends on no such item (itself if none)."""

    def root(item: Item, seen: frozenset[Item]) -> Item:
        event = changes[item].event
        causes = sorted(
            cause
            for cause in depends_on.get(item, ())
            if cause in changes and cause not in seen and changes[cause].event == event
        )
        return root(causes[0], seen | {item}) if causes else item

    return {item: root(item, frozenset()) for item in changes}


def dependencies(items: Iterable[Item]) -> dict[Item, set[Item]]:
    """What each of `items` depends on among them: the data stores a service uses and the
    services it talks to. Two queries."""
    services = [pk for kind, pk in items if kind == SERVICE]
    stores = [pk for kind, pk in items if kind == STORE]
    depends_on: dict[Item, set[Item]] = {}
    uses = DataStore.used_by.through.objects.filter(
        service_id__in=services, datastore_id__in=stores
    ).values_list("service_id", "datastore_id")
    for service_id, store_id in uses:
        depends_on.setdefault((SERVICE, service_id), set()).add((STORE, store_id))
    calls = Service.talks_to.through.objects.filter(
        from_service_id__in=services, to_service_id__in=services
    ).values_list("from_service_id", "to_service_id")
    for caller, called in calls:
        depends_on.setdefault((SERVICE, caller), set()).add((SERVICE, called))
    return depends_on


def alerts_record(
    scan: Scan, checks: list[HealthCheck], in_maintenance: dict[int, bool], *, at: datetime
) -> list[AlertEvent]:
    """The alerts of one scan's changes, written with their deliveries and queued for
    sending after commit. Costs no query when nothing changed."""
    changes = changes_of(checks, in_maintenance)
    if not changes:
        return []
    roots = roots_of(changes, dependencies(changes))
    rows: dict[Item, Service | DataStore] = {
        (SERVICE, service.pk): service
        for service in Service.objects.filter(
            pk__in=[pk for kind, pk in changes if kind == SERVICE]
        )
    }
    rows |= {
        (STORE, store.pk): store
        for store in DataStore.objects.filter(pk__in=[pk for kind, pk in changes if kind == STORE])
    }
    alerts = []
    for item in sorted(set(roots.values())):
        row, change = rows[item], changes[item]
        affected = sorted(rows[other].slug for other, cause in roots.items() if cause == item)
        affected.remove(row.slug)
        alerts.append(
            AlertEvent(
                event=change.event,
                status=change.status,
                category_id=row.category_id,
                service=row if item[0] == SERVICE else None,
                data_store=row if item[0] == STORE else None,
                item=row.slug,
                item_name=row.name,
                cause=row.slug,
                affected=affected,
                detail=change.detail[:500],
                at=at,
                scan=scan,
            )
        )
    incidents_follow(alerts)
    AlertEvent.objects.bulk_create(alerts)
    deliveries_queue(alerts)
    return alerts


def incidents_follow(alerts: list[AlertEvent]) -> None:
    """Each root cause's incident, as its (unsaved) alert says: a down alert opens one
    unless one is open; any alert of an item with an open incident joins it (its affected
    items too), and a recovery resolves it. Sets each alert's `incident`. One query for
    the open incidents, then one INSERT or UPDATE per incident that changes."""
    services = [alert.service_id for alert in alerts if alert.service_id]
    stores = [alert.data_store_id for alert in alerts if alert.data_store_id]
    open_incidents = {
        item_of(incident): incident
        for incident in Incident.objects.open().filter(
            Q(service_id__in=services) | Q(data_store_id__in=stores)
        )
    }
    for alert in alerts:
        incident = open_incidents.get(item_of(alert))
        if incident is None and alert.event == AlertEvent.Event.DOWN:
            incident = Incident.objects.create(
                title=alert.item_name,
                category_id=alert.category_id,
                service_id=alert.service_id,
                data_store_id=alert.data_store_id,
                cause=alert.cause,
                affected=alert.affected,
                opened_at=alert.at,
                changed_at=alert.at,
            )
        elif incident is not None:
            changes = {
                "changed_at": alert.at,
                "affected": sorted({*incident.affected, *alert.affected}),
            }
            if alert.event == AlertEvent.Event.RECOVERED:
                changes |= {"state": IncidentState.RESOLVED, "resolved_at": alert.at}
            Incident.objects.filter(pk=incident.pk).update(**changes)
        alert.incident = incident


def deliveries_queue(alerts: list[AlertEvent]) -> list[Delivery]:
    """One delivery per (alert, channel that wants it), and a task for each, sent after
    the transaction commits (through the outbox, so a broker that is away loses none)."""
    Channel.sync_declared()
    channels = list(Channel.objects.for_delivery())
    deliveries = Delivery.objects.bulk_create(
        Delivery(alert=alert, channel=channel)
        for alert in alerts
        for channel in channels
        if channel.wants(alert)
    )
    queue_after_commit(Job(DELIVER_TASK, [delivery.pk]) for delivery in deliveries)
    return deliveries
