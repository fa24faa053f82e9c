"""Health rules: what a service, a data store and a category are, from their checks.

Pure rules (status precedence, category aggregation, staleness, the scan time as a
reader sees it) and the reads that feed them. Scans write the checks (portal/scans.py),
their sparklines drawn (portal/sparklines.py); pages, the API and the home page read them
through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import dateformat, timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from aixops.middleware import zone_abbreviation

from .models import HealthCheck, HealthStatus, Scan
from .models.health import shown_status
from .sparklines import Sparkline

# A scan older than this many intervals means beat, the worker or the broker is down.
STALE_AFTER_INTERVALS = 3

# Worst first: a service with several checks shows its worst.
_SEVERITY = {
    HealthStatus.DOWN: 4,
    HealthStatus.DEGRADED: 3,
    HealthStatus.MAINTENANCE: 2,
    HealthStatus.UP: 1,
    HealthStatus.UNKNOWN: 0,
}


class CategoryStatus(models.TextChoices):
    """A category's aggregate status, in the words of the seed page's header."""

    OPTIMAL = "optimal", _("System Optimal")
    DEGRADED = "degraded", _("Degraded")
    PARTIAL_OUTAGE = "partial_outage", _("Partial Outage")
    MAJOR_OUTAGE = "major_outage", _("Major Outage")
    MAINTENANCE = "maintenance", _("Maintenance")
    STALE = "stale", _("Stale")
    NO_SCAN = "no_scan", _("No scan yet")
    # Scanned, but nothing the category depends on has a known status: no item has a
    # check, or none of their checks has a confirmed result yet.
    UNKNOWN = "unknown", _("Status unknown")


# The part an item plays in its category, for the aggregation below.
MENU, SUPPORTING, STORE = "menu", "supporting", "store"


def worst(statuses: Iterable[str]) -> str:
    """The most severe of some statuses; unknown when there are none."""
    return max(statuses, key=lambda status: _SEVERITY[status], default=HealthStatus.UNKNOWN)


def category_status(parts: Iterable[tuple[str, str]]) -> str:
    """A category's status from (part, status) pairs, part being menu, supporting or store.

    A menu service down is a major outage; a supporting service or a data store down
    is a partial one; then degraded, then maintenance, then optimal. Items not checked
    yet count neither way, and when no item is known the status is unknown: optimal
    says something was seen working. Staleness is decided before this (see `ScanInfo`).
    """
    parts = list(parts)
    if all(status == HealthStatus.UNKNOWN for _part, status in parts):
        return CategoryStatus.UNKNOWN
    down = {part for part, status in parts if status == HealthStatus.DOWN}
    if MENU in down:
        return CategoryStatus.MAJOR_OUTAGE
    if down:
        return CategoryStatus.PARTIAL_OUTAGE
    statuses = {status for _part, status in parts}
    if HealthStatus.DEGRADED in statuses:
        return CategoryStatus.DEGRADED
    if HealthStatus.MAINTENANCE in statuses:
        return CategoryStatus.MAINTENANCE
    return CategoryStatus.OPTIMAL


def is_stale(finished_at: datetime, *, now: datetime, interval: int) -> bool:
    """True when the last finished scan is older than STALE_AFTER_INTERVALS intervals."""
    return now - finished_at > timedelta(seconds=STALE_AFTER_INTERVALS * interval)


def format_scan_time(moment: datetime) -> str:
    """Hours, minutes and seconds in the active language and time zone:
    `오전 5:36:00` in Korean, `5:36:00 AM` in English, with the zone's abbreviation
    when it is not the portal's own (`3:36:00 PM EST`).

    The format itself is a translation, so each language says the time its own way.
    """
    # Translators: a Django time format (g: hour, i: minutes, s: seconds, A: AM/PM).
    time_format = pgettext("scan time format", "g:i:s A")
    shown = dateformat.format(timezone.localtime(moment), time_format)
    zone = zone_abbreviation(moment)
    return f"{shown} {zone}" if zone else shown


@dataclass(frozen=True)
class ScanInfo:
    """The latest finished scan, as the pages need it: which one, when, and whether stale."""

    id: int
    finished_at: datetime
    stale: bool

    @property
    def time_display(self) -> str:
        return format_scan_time(self.finished_at)

    @property
    def cache_key(self) -> str:
        return f"scan{self.id}{'-stale' if self.stale else ''}"

    @classmethod
    def of(cls, scan_id: int, finished_at: datetime, *, now: datetime | None = None) -> ScanInfo:
        stale = is_stale(
            finished_at, now=now or timezone.now(), interval=settings.HEALTH_SCAN_INTERVAL
        )
        return cls(id=scan_id, finished_at=finished_at, stale=stale)


def latest_scan_info(*, now: datetime | None = None) -> ScanInfo | None:
    """The latest finished scan and its staleness now, in one query; None before any."""
    row = Scan.objects.finished_latest_first().values_list("pk", "finished_at").first()
    return ScanInfo.of(*row, now=now) if row else None


@dataclass(frozen=True)
class CategoryHealth:
    """The header of a category page: last scan time, the category's status, and how many
    of its items that status rests on."""

    scan: ScanInfo | None
    status: str  # a CategoryStatus value
    last_known: str  # the status the checks show, even when the scan is stale
    items: int = 0  # its services (hidden ones too) and data stores
    # Items whose status is known (up, degraded, down or maintenance): checked and
    # confirmed. Items without a check, or whose checks await a first confirmed
    # result, are not monitored yet.
    monitored: int = 0

    @property
    def label(self) -> str:
        return CategoryStatus(self.status).label

    @property
    def last_known_label(self) -> str:
        return CategoryStatus(self.last_known).label

    @property
    def partly_monitored(self) -> bool:
        """Whether the scanned status rests on only some of the items (the page says so)."""
        return self.scan is not None and self.monitored < self.items

    @property
    def monitored_label(self) -> str:
        return gettext("%(monitored)d of %(items)d monitored") % {
            "monitored": self.monitored,
            "items": self.items,
        }

    @property
    def flower_url(self) -> str:
        return settings.FLOWER_URL

    @property
    def stale_after_minutes(self) -> int:
        return max(1, STALE_AFTER_INTERVALS * settings.HEALTH_SCAN_INTERVAL // 60)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "label": str(CategoryStatus(self.status).label),
            "last_known": self.last_known,
            "items": self.items,
            "monitored": self.monitored,
            "last_scan": (
                {
                    "id": self.scan.id,
                    "finished_at": self.scan.finished_at.isoformat(),
                    "stale": self.scan.stale,
                }
                if self.scan
                else None
            ),
        }


def category_health(
    parts: Iterable[tuple[str, str]], scan: ScanInfo | None, *, items: int | None = None
) -> CategoryHealth:
    """The category's health from one (part, status) pair per item, and the latest scan.

    Stale or not scanned yet wins over what the (old) checks say. `items` is the number
    of items when `parts` leaves out those without a check (default: one pair each).
    """
    parts = list(parts)
    last_known = category_status(parts)
    counts = {
        "items": len(parts) if items is None else items,
        "monitored": sum(1 for _part, status in parts if status != HealthStatus.UNKNOWN),
    }
    if scan is None:
        status = CategoryStatus.NO_SCAN
    elif scan.stale:
        status = CategoryStatus.STALE
    else:
        status = last_known
    return CategoryHealth(scan=scan, status=status, last_known=last_known, **counts)


# What a probed item whose status is not known yet reads: flap control is waiting for
# more outcomes like the last one (failures_before_down, successes_before_up).
_UNCONFIRMED_LABELS = {
    HealthStatus.DOWN: _("failed, checking again"),
    HealthStatus.UP: _("answered, checking again"),
}


@dataclass
class ItemHealth:
    """A service's or data store's health as its card shows it."""

    status: str = HealthStatus.UNKNOWN
    # Probed, but not known yet: the outcome (down or up) waiting to be confirmed.
    unconfirmed: str = ""
    latency_ms: float | None = None
    uptime_24h: float | None = None
    uptime_7d: float | None = None
    detail: str = ""
    checked: bool = False
    sparkline: Sparkline | None = None
    # Data stores this service uses that are down: (name, status).
    dependencies_down: list[tuple[str, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.unconfirmed:
            return _UNCONFIRMED_LABELS[self.unconfirmed]
        return HealthStatus(self.status).label

    @property
    def dependencies_down_shown(self) -> list[tuple[str, str]]:
        """(name, status in words) for the card's "depends on …" lines."""
        return [(name, HealthStatus(status).label) for name, status in self.dependencies_down]

    @classmethod
    def from_checks(cls, checks: list[HealthCheck]) -> ItemHealth:
        """One item's health from its checks (usually one), whole or read with the
        `CARD_FIELDS` (`card_rows`): the worst status and the lowest uptimes; latency and
        sparkline of the check that decided the status."""
        if not checks:
            return cls()
        if len(checks) == 1:
            # Most items have one check, which decides everything.
            deciding = checks[0]
            status = _shown_status(deciding)
            uptime_24h, uptime_7d = deciding.uptime_24h, deciding.uptime_7d
        else:
            shown = [_shown_status(check) for check in checks]
            status = worst(shown)
            deciding = checks[shown.index(status)]
            uptime_24h = _lowest(check.uptime_24h for check in checks)
            uptime_7d = _lowest(check.uptime_7d for check in checks)
        return cls(
            status=status,
            unconfirmed=_unconfirmed(status, checks),
            latency_ms=deciding.latency_ms,
            uptime_24h=uptime_24h,
            uptime_7d=uptime_7d,
            detail=deciding.detail,
            checked=True,
            sparkline=Sparkline.stored(deciding.sparkline_points, deciding.sparkline_peak_ms),
        )

    @classmethod
    def status_of(cls, checks: list) -> ItemHealth:
        """The item's status alone (and the outcome waiting to be confirmed), from checks
        read with only the `STATUS_FIELDS`: the worst status shown."""
        if not checks:
            return cls()
        status = worst(_shown_status(check) for check in checks)
        return cls(status=status, unconfirmed=_unconfirmed(status, checks), checked=True)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "unconfirmed": self.unconfirmed or None,
            "latency_ms": self.latency_ms,
            "uptime_24h": self.uptime_24h,
            "uptime_7d": self.uptime_7d,
            "detail": self.detail,
            "depends_on_down": [name for name, _status in self.dependencies_down],
        }


def _lowest(values: Iterable[float | None]) -> float | None:
    return min((value for value in values if value is not None), default=None)


def _unconfirmed(status: str, checks: list[HealthCheck]) -> str:
    """The outcome waiting to be confirmed of an item whose checks show `status`: only
    when none of them has a status yet, down if one has failed, up if one has answered,
    "" if none has been probed."""
    if status != HealthStatus.UNKNOWN:
        return ""
    probed = [check for check in checks if check.probed]
    if any(check.consecutive_failures for check in probed):
        return HealthStatus.DOWN
    return HealthStatus.UP if probed else ""


def _shown_status(check: HealthCheck) -> str:
    # `in_maintenance` is annotated by checks_with_maintenance().
    return shown_status(check.status, in_maintenance=check.in_maintenance)


# What ItemHealth.status_of reads of a check (with `in_maintenance`, checks_with_maintenance;
# `probed` is an annotation of `item_rows`).
STATUS_FIELDS = ("status", "probed", "consecutive_failures")
# What ItemHealth.from_checks reads of a check, to draw its item's card.
CARD_FIELDS = (
    *STATUS_FIELDS,
    "latency_ms",
    "uptime_24h",
    "uptime_7d",
    "detail",
    "sparkline_points",
    "sparkline_peak_ms",
)


def checks_with_maintenance(*, now: datetime | None = None) -> models.QuerySet:
    """Enabled checks, each knowing whether its service is in a maintenance window now."""
    return HealthCheck.objects.filter(enabled=True).with_maintenance(now).order_by("position", "pk")


def item_rows(checks: models.QuerySet, fields: tuple[str, ...]) -> models.QuerySet:
    """`checks` (checks_with_maintenance) as named rows of their owners, `in_maintenance`
    and `fields` (STATUS_FIELDS or CARD_FIELDS): a large category's thousands of checks
    load several times faster so than as whole checks. Whether a check has been probed is
    read as a flag (`probed`), not as its `checked_at`: thousands of time stamps cost
    more to load than the rest of the rows."""
    return checks.annotate(
        probed=ExpressionWrapper(Q(checked_at__isnull=False), output_field=BooleanField())
    ).values_list("service_id", "data_store_id", "in_maintenance", *fields, named=True)


def card_rows(checks: models.QuerySet) -> models.QuerySet:
    """`checks` as rows of what `attach_health` reads of them (`item_rows`)."""
    return item_rows(checks, CARD_FIELDS)


def attach_health(services: list, stores: list, checks: Iterable[HealthCheck]) -> None:
    """Give each service and data store its `health` (an ItemHealth), and each service
    the names of the data stores it uses that are down (`stores_used` must be set)."""
    by_service: dict[int, list[HealthCheck]] = {}
    by_store: dict[int, list[HealthCheck]] = {}
    for check in checks:
        if check.service_id is not None:
            by_service.setdefault(check.service_id, []).append(check)
        else:
            by_store.setdefault(check.data_store_id, []).append(check)
    for store in stores:
        store.health = ItemHealth.from_checks(by_store.get(store.pk, []))
    for service in services:
        service.health = ItemHealth.from_checks(by_service.get(service.pk, []))
        service.health.dependencies_down = [
            (store.name, store.health.status)
            for store in getattr(service, "stores_used", [])
            if store.health.status == HealthStatus.DOWN
        ]


def parts_of(services: Iterable, stores: Iterable) -> list[tuple[str, str]]:
    """(part, status) pairs for category_status(), from items with `health` attached."""
    pairs = [(service.role, service.health.status) for service in services]
    pairs += [(STORE, store.health.status) for store in stores]
    return pairs
