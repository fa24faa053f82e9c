"""The status page's and badges' rules: a day's uptime as a coloured bar, an SLO's error
budget, and a shields-style SVG badge. Pure: the reads are in portal/selectors.py."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from .health import ItemHealth
from .models.catalog import SLO_WINDOW_MAX_DAYS

# How many days of bars the status page draws per item: the rollups it reads cover every
# item's SLO window too.
STATUS_DAYS = SLO_WINDOW_MAX_DAYS
# The most days of history the API hands out: the rollups' default retention.
HISTORY_MAX_DAYS = 400
# The windows a badge may show uptime over (its path names one: uptime-30d.svg).
BADGE_WINDOWS = (7, 30, 90)

# A day's uptime, from its results (total, down) summed over the item's checks.
Counts = tuple[int, int]


def uptime_of(counts: Iterable[Counts]) -> float | None:
    """Percent of results not down, over some days' counts; None when there are none."""
    total, down = _summed(counts)
    return round(100 * (total - down) / total, 2) if total else None


def uptime_band(uptime: float | None) -> str:
    """The colour class of an uptime: none (grey, no data), ok, minor, major, bad."""
    if uptime is None:
        return "none"
    if uptime >= 99.9:
        return "ok"
    if uptime >= 99:
        return "minor"
    if uptime >= 95:
        return "major"
    return "bad"


class DayUptime(NamedTuple):
    """One bar of the 90-day uptime bar (a tuple: a large catalog has hundreds of
    thousands of them)."""

    day: date
    uptime: float | None

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "uptime": self.uptime}


def calendar(*, days: int, today: date) -> list[date]:
    """The last `days` days, oldest first, today included."""
    first = today - timedelta(days=days - 1)
    return [first + timedelta(days=n) for n in range(days)]


def days_of(counts_by_day: dict[date, Counts], dates: list[date]) -> list[DayUptime]:
    """A bar per day of `dates` (a `calendar`)."""
    days = []
    for day in dates:
        total, down = counts_by_day.get(day, (0, 0))
        days.append(DayUptime(day, round(100 * (total - down) / total, 2) if total else None))
    return days


def render_bar(days: list[DayUptime]) -> str:
    """The uptime bar's HTML: a span per day, coloured by its band, its date and uptime as
    its tooltip. Built here rather than in a template loop: a large catalog has a few
    hundred thousand of them. Nothing in it comes from a reader; the one translated text is
    escaped."""
    no_data = escape(gettext("%(day)s: no data"))
    spans = []
    for day in days:
        shown = day.day.isoformat()
        title = no_data % {"day": shown} if day.uptime is None else f"{shown}: {day.uptime:g}%"
        spans.append(f'<span class="day day-{uptime_band(day.uptime)}" title="{title}"></span>')
    return SafeString("".join(spans))


@dataclass(frozen=True)
class Slo:
    """An item's uptime against the target it promises, over its window. The error budget
    is what the target allows to be down (100 - target); `budget_left` is the percent of it
    not spent yet, below zero once the SLO is missed."""

    target: float
    window_days: int
    uptime: float | None

    @property
    def budget_left(self) -> float | None:
        if self.uptime is None:
            return None
        allowed = 100 - self.target
        return round(100 * (1 - (100 - self.uptime) / allowed), 1)

    @property
    def met(self) -> bool | None:
        return None if self.uptime is None else self.uptime >= self.target

    @property
    def label(self) -> str:
        """The card's line: "99.71 % of 99.5 % · 42 % of budget left"."""
        if self.uptime is None:
            return gettext("SLO %(target)s%% over %(days)d days: no data yet") % {
                "target": f"{self.target:g}",
                "days": self.window_days,
            }
        return gettext("%(uptime)s%% of %(target)s%% · %(left)s%% of budget left") % {
            "uptime": f"{self.uptime:g}",
            "target": f"{self.target:g}",
            "left": f"{self.budget_left:g}",
        }

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "window_days": self.window_days,
            "uptime": self.uptime,
            "budget_left": self.budget_left,
            "met": self.met,
        }


def slo_of(item, counts_by_day: dict[date, Counts], *, today: date) -> Slo | None:
    """The item's SLO from its daily counts (which must cover its window); None without
    a target."""
    if item.slo_target is None:
        return None
    first = today - timedelta(days=item.slo_window_days - 1)
    window = [counts for day, counts in counts_by_day.items() if first <= day <= today]
    return Slo(item.slo_target, item.slo_window_days, uptime_of(window))


@dataclass(frozen=True)
class PastDays:
    """An item's bars and SLO results before today: they change only when the day (or
    the catalog) does, so the status page caches them (portal.pages) and a scan re-renders
    only statuses and today's bar."""

    uptimes: tuple[float | None, ...]
    bar_html: str
    slo_counts: Counts  # its results in its SLO window before today, (0, 0) without an SLO


@dataclass(frozen=True)
class StatusHistory:
    """Every item's `PastDays` for one local day: the days before today of the status
    page's calendar, and a grey history for an item without results."""

    today: date
    dates: tuple[date, ...]  # the past days, oldest first
    items: dict[tuple[str, int], PastDays]
    empty: PastDays

    def of(self, key: tuple[str, int]) -> PastDays:
        return self.items.get(key, self.empty)


def status_history(
    counts: dict[tuple[str, int], dict[date, Counts]],
    slo_windows: dict[tuple[str, int], int],
    *,
    today: date,
) -> StatusHistory:
    """The past days of every item in `counts` (which must cover the days before today),
    with the SLO results of those in `slo_windows` (item key: window in days)."""
    dates = calendar(days=STATUS_DAYS, today=today)[:-1]
    items = {}
    for key, by_day in counts.items():
        days = days_of(by_day, dates)
        window = slo_windows.get(key)
        slo_counts = (0, 0)
        if window is not None:
            first = today - timedelta(days=window - 1)
            slo_counts = _summed(c for day, c in by_day.items() if first <= day < today)
        items[key] = PastDays(tuple(day.uptime for day in days), render_bar(days), slo_counts)
    empty_days = days_of({}, dates)
    empty = PastDays(tuple(None for _ in dates), render_bar(empty_days), (0, 0))
    return StatusHistory(today, tuple(dates), items, empty)


def _summed(counts: Iterable[Counts]) -> Counts:
    total = down = 0
    for day_total, day_down in counts:
        total += day_total
        down += day_down
    return total, down


@dataclass
class StatusItem:
    """A service or data store as the status page shows it: its cached past days and its
    bar for today, read at each scan."""

    kind: str  # "service" or "data_store"
    slug: str
    name: str
    health: ItemHealth
    history: StatusHistory
    past: PastDays
    today: DayUptime
    slo: Slo | None = None

    @property
    def days(self) -> list[DayUptime]:
        past = zip(self.history.dates, self.past.uptimes, strict=True)
        return [*(DayUptime(day, uptime) for day, uptime in past), self.today]

    @property
    def bar_html(self) -> str:
        return SafeString(self.past.bar_html + render_bar([self.today]))

    @property
    def bar_label(self) -> str:
        # Here rather than a blocktranslate in the page's loop over every item: cheaper.
        return gettext("Daily uptime of %(name)s") % {"name": self.name}

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "slug": self.slug,
            "name": self.name,
            "status": self.health.status,
            "label": str(self.health.label),
            "slo": self.slo.as_dict() if self.slo else None,
            "days": [day.as_dict() for day in self.days],
        }


def status_item(kind, item, health: ItemHealth, history: StatusHistory, today: Counts | None):
    """The item as the status page shows it, from its cached past and `today`'s results."""
    past = history.of((kind, item.pk))
    total, down = today or (0, 0)
    slo = None
    if item.slo_target is not None:
        uptime = uptime_of([past.slo_counts, (total, down)])
        slo = Slo(item.slo_target, item.slo_window_days, uptime)
    return StatusItem(
        kind=kind,
        slug=item.slug,
        name=item.name,
        health=health,
        history=history,
        past=past,
        today=DayUptime(history.today, round(100 * (total - down) / total, 2) if total else None),
        slo=slo,
    )


@dataclass
class StatusCategory:
    slug: str
    name: str
    url: str
    items: list[StatusItem] = field(default_factory=list)


# Badge colours, as shields.io draws them.
BADGE_COLOURS = {
    "up": "#4c1",
    "ok": "#4c1",
    "minor": "#a4a61d",
    "degraded": "#dfb317",
    "maintenance": "#007ec6",
    "major": "#fe7d37",
    "down": "#e05d44",
    "bad": "#e05d44",
    "unknown": "#9f9f9f",
    "none": "#9f9f9f",
}
_NARROW_WIDTH, _WIDE_WIDTH, _PADDING = 7, 12, 10


def text_width(text: str) -> int:
    """The text's width in pixels at 11 px in a sans-serif font, estimated from its
    characters (wide ones, as Hangul, take more) since the badge embeds no font."""
    return sum(
        _WIDE_WIDTH if unicodedata.east_asian_width(char) in "WF" else _NARROW_WIDTH
        for char in text
    )


def render_badge(label: str, value: str, colour_key: str) -> str:
    """A shields-style SVG badge: the label on grey, the value on its colour."""
    left = text_width(label) + _PADDING
    right = text_width(value) + _PADDING
    return render_to_string(
        "portal/badge.svg",
        {
            "label": label,
            "value": value,
            "colour": BADGE_COLOURS[colour_key],
            "left": left,
            "right": right,
            "width": left + right,
            # Strings: a float in a template would take the reader's decimal separator.
            "label_x": f"{left / 2:g}",
            "value_x": f"{left + right / 2:g}",
        },
    )


def status_badge(health: ItemHealth) -> str:
    """The status badge: the item's status in words, in its colour."""
    return render_badge(gettext("status"), str(health.label), health.status)


def uptime_badge(days: int, uptime: float | None) -> str:
    """The uptime badge over `days` days, coloured as the status page's bars."""
    value = f"{uptime:g}%" if uptime is not None else gettext("no data")
    label = gettext("uptime %(days)dd") % {"days": days}
    return render_badge(label, value, uptime_band(uptime))
