"""The status page's and badges' rules: a day's uptime as a coloured bar, an SLO's error
budget, and a shields-style SVG badge. Pure: the reads are in portal/selectors.py."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape
from itertools import groupby
from typing import NamedTuple

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_noop, ngettext

from .health import ItemHealth
from .models.catalog import SLO_WINDOW_MAX_DAYS

# How many days of bars the status page draws per item: the rollups it reads cover every
# item's SLO window too.
STATUS_DAYS = SLO_WINDOW_MAX_DAYS
# The most days of history the API hands out: the rollups' default retention.
HISTORY_MAX_DAYS = 400
# The windows a badge may show uptime over (its path names one: uptime-30d.svg).
BADGE_WINDOWS = (7, 30, 90)

# The least uptime of a green day.
OK_UPTIME = 99.9

# A day's uptime, from its results (total, down) summed over the item's checks.
Counts = tuple[int, int]


def share_up(total: int, down: int) -> float | None:
    """Percent of `total` results not `down`; None when there are none."""
    return round(100 * (total - down) / total, 2) if total else None


def uptime_of(counts: Iterable[Counts]) -> float | None:
    """Percent of results not down, over some days' counts; None when there are none."""
    return share_up(*_summed(counts))


def uptime_band(uptime: float | None) -> str:
    """The colour class of an uptime: none (grey, no data), ok, minor, major, bad."""
    if uptime is None:
        return "none"
    if uptime >= OK_UPTIME:
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
        days.append(DayUptime(day, share_up(total, down)))
    return days


def bar_paths(uptimes: Iterable[float | None]) -> str:
    """An uptime bar's days as SVG, a day wide each (x: the day's index): a path per
    colour band, a line per run of days in that band, which the page's CSS dashes into a
    bar per day. A tag per day would make a large catalog's page megabytes of markup.
    Nothing in it comes from a reader."""
    lines: dict[str, list[str]] = {}
    x = 0
    for band, run in groupby(uptimes, key=uptime_band):
        length = sum(1 for _ in run)
        lines.setdefault(band, []).append(f"M{x} .5h{length}")
        x += length
    return SafeString(
        "".join(f'<path class="day-{band}" d="{"".join(d)}"/>' for band, d in lines.items())
    )


def figure(uptime: float | None) -> str:
    """An uptime as the bars' tooltips read it (status.js): "99.9", or "-" for no data."""
    return "-" if uptime is None else f"{uptime:g}"


class StatusWords:
    """What the status page says of each item, its words translated once for all of a
    page's items (in the active language): a gettext call costs microseconds, and a page
    has thousands of items."""

    def __init__(self):
        self._translated: dict[str, str] = {}
        self._labels: dict[tuple[str, str], str] = {}
        self._below: dict[int, str] = {}
        self._no_data = gettext("%(name)s: no uptime data in the last %(days)d days.")
        self._over_days = gettext("%(name)s: %(uptime)s%% uptime over the last %(days)d days.")

    def translate(self, message: str) -> str:
        """gettext(message), looked up once."""
        if message not in self._translated:
            self._translated[message] = gettext(message)
        return self._translated[message]

    def label(self, health: ItemHealth) -> str:
        """The item's status in words."""
        key = (health.status, health.unconfirmed)
        if key not in self._labels:
            self._labels[key] = str(health.label)
        return self._labels[key]

    def summary(
        self, name: str, *, uptime: float | None, days_below: int, lowest: DayUptime | None
    ) -> str:
        """What an item's bar shows, in words (its accessible name): the uptime over the
        bar's days and, when some fell below the green band, how many and the worst."""
        if uptime is None:
            return self._no_data % {"name": name, "days": STATUS_DAYS}
        summary = self._over_days % {"name": name, "uptime": f"{uptime:g}", "days": STATUS_DAYS}
        if lowest is None:
            return summary
        if days_below not in self._below:
            self._below[days_below] = ngettext(
                "%(count)d day below %(ok)s%%, the lowest %(uptime)s%% on %(day)s.",
                "%(count)d days below %(ok)s%%, the lowest %(uptime)s%% on %(day)s.",
                days_below,
            )
        below = self._below[days_below] % {
            "count": days_below,
            "ok": f"{OK_UPTIME:g}",
            "uptime": f"{lowest.uptime:g}",
            "day": lowest.day.isoformat(),
        }
        return f"{summary} {below}"


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
        return self.label_in(gettext)

    def label_in(self, translate: Callable[[str], str]) -> str:
        """The label, its words translated by `translate` (StatusWords.translate looks
        each up once for a page of thousands)."""
        if self.uptime is None:
            no_data = gettext_noop("SLO %(target)s%% over %(days)d days: no data yet")
            return translate(no_data) % {"target": f"{self.target:g}", "days": self.window_days}
        kept = gettext_noop("%(uptime)s%% of %(target)s%% · %(left)s%% of budget left")
        return translate(kept) % {
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


class PastTotals(NamedTuple):
    """An item's results before today, which a scan's of today complete: over the bar's
    days (its summary) and over its SLO window."""

    counts: Counts
    days_below: int  # days with data below the green band
    lowest: DayUptime | None  # the worst of those, None when there is none
    slo_counts: Counts  # (0, 0) without an SLO


class PastDays(NamedTuple):
    """An item's days before today on the status page, drawn. They change only when the
    day (or the catalog) does, so the page caches them (portal.pages) and a scan renews
    only statuses and today's bar."""

    uptimes: tuple[float | None, ...]
    bar: str  # the days' bars (bar_paths)
    figures: str  # the days' uptimes for the bars' tooltips, space-separated (figure)
    totals: PastTotals

    @classmethod
    def of(cls, days: list[DayUptime], counts: Counts, slo_counts: Counts) -> PastDays:
        below = [day for day in days if uptime_band(day.uptime) not in ("ok", "none")]
        uptimes = tuple(day.uptime for day in days)
        lowest = min(below, key=lambda day: day.uptime, default=None)
        return cls(
            uptimes=uptimes,
            bar=bar_paths(uptimes),
            figures=" ".join(figure(uptime) for uptime in uptimes),
            totals=PastTotals(counts, len(below), lowest, slo_counts),
        )


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
        window = slo_windows.get(key)
        slo_counts = (0, 0)
        if window is not None:
            first = today - timedelta(days=window - 1)
            slo_counts = _summed(c for day, c in by_day.items() if first <= day < today)
        past = [c for day, c in by_day.items() if dates[0] <= day < today]
        items[key] = PastDays.of(days_of(by_day, dates), _summed(past), slo_counts)
    empty = PastDays.of(days_of({}, dates), (0, 0), (0, 0))
    return StatusHistory(today, tuple(dates), items, empty)


def _summed(counts: Iterable[Counts]) -> Counts:
    total = down = 0
    for day_total, day_down in counts:
        total += day_total
        down += day_down
    return total, down


class StatusItem(NamedTuple):
    """A service or data store as the status page lists it: what holds for the day (its
    name, its SLO target and its results before today). What a scan renews is its
    `ItemNow`; its drawn days are in the `StatusHistory`."""

    kind: str  # "service" or "data_store"
    pk: int
    slug: str
    name: str
    slo_target: float | None
    slo_window_days: int
    past: PastTotals

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.pk)

    def as_dict(self, now: ItemNow, history: StatusHistory) -> dict:
        past = zip(history.dates, history.of(self.key).uptimes, strict=True)
        days = [*(DayUptime(day, uptime) for day, uptime in past), now.today]
        return {
            "kind": self.kind,
            "slug": self.slug,
            "name": self.name,
            "status": now.health.status,
            "label": now.label,
            "slo": now.slo.as_dict() if now.slo else None,
            "days": [day.as_dict() for day in days],
        }


class ItemNow(NamedTuple):
    """What a scan renews of an item on the status page: its health, today's bar and its
    SLO, and what the page prints of them (the fields its frame names as `now.<field>`)."""

    health: ItemHealth
    today: DayUptime
    slo: Slo | None
    status: str
    label: str
    today_band: str
    today_figure: str
    slo_state: str  # kept or missed
    slo_label: str
    summary: str  # bar_summary


def item_now(
    item: StatusItem, health: ItemHealth, today: date, counts: Counts | None, words: StatusWords
) -> ItemNow:
    """The item's `ItemNow` from its health and `today`'s results."""
    past = item.past
    total, down = counts or (0, 0)
    today_bar = DayUptime(today, share_up(total, down))
    band = uptime_band(today_bar.uptime)
    days_below, lowest = past.days_below, past.lowest
    if band not in ("ok", "none"):
        days_below += 1
        if lowest is None or today_bar.uptime <= lowest.uptime:
            lowest = today_bar
    slo = None
    if item.slo_target is not None:
        slo_total, slo_down = past.slo_counts
        slo_uptime = share_up(slo_total + total, slo_down + down)
        slo = Slo(item.slo_target, item.slo_window_days, slo_uptime)
    past_total, past_down = past.counts
    summary = words.summary(
        item.name,
        uptime=share_up(past_total + total, past_down + down),
        days_below=days_below,
        lowest=lowest,
    )
    return ItemNow(
        health=health,
        today=today_bar,
        slo=slo,
        status=health.status,
        label=words.label(health),
        today_band=band,
        today_figure=figure(today_bar.uptime),
        slo_state="missed" if slo and slo.met is False else "kept",
        slo_label=slo.label_in(words.translate) if slo else "",
        summary=summary,
    )


@dataclass
class StatusCategory:
    slug: str
    name: str
    url: str
    items: list[StatusItem] = field(default_factory=list)


# Where the frame of the status page prints a field of an item's ItemNow. Escaped text
# never holds "<", so no name or translation can fake one.
_NOW_MARKER = re.compile(r"<!--now (\d+) (\w+)-->")


class NowMarkers(dict):
    """An item's `now` while its frame renders: each field prints as a marker naming the
    item and the field, which `StatusFrame.filled` replaces. Markers only print: the
    template must not test them."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def __missing__(self, field_name: str) -> str:
        return SafeString(f"<!--now {self.index} {field_name}-->")


@dataclass(frozen=True)
class StatusFrame:
    """The status page's list of categories and items as one class of readers sees it,
    rendered once per day and catalog revision and cut at each field of `now` it prints,
    so that after a scan the page only fills those in (`filled`)."""

    items: tuple[StatusItem, ...]  # in the page's order
    nav: tuple[tuple[str, str], ...]  # (slug, name) of every category the readers see
    pieces: tuple[str, ...]  # the HTML between the fields
    # Of each field, in order: its item's index and its index in ItemNow. Flat tuples
    # of ints: a tuple per field would be thousands of objects to unpickle and collect.
    field_items: tuple[int, ...]
    field_positions: tuple[int, ...]

    @classmethod
    def render(
        cls,
        categories: list[StatusCategory],
        *,
        nav: list[tuple[str, str]],
        history: StatusHistory,
        render: Callable[[list[tuple[StatusCategory, list]]], str],
    ) -> StatusFrame:
        """The frame of `categories`: `render` draws the (category, [(item, its
        PastDays, its now)]) it is given, each `now` printing markers."""
        items: list[StatusItem] = []
        shown = []
        for category in categories:
            rows = []
            for item in category.items:
                rows.append((item, history.of(item.key), NowMarkers(len(items))))
                items.append(item)
            shown.append((category, rows))
        parts = _NOW_MARKER.split(render(shown))
        names = parts[2::3]
        unknown = set(names) - set(ItemNow._fields)
        if unknown:
            raise ValueError(f"The status page prints no such field of ItemNow: {unknown}")
        return cls(
            items=tuple(items),
            nav=tuple(nav),
            pieces=tuple(parts[0::3]),
            field_items=tuple(map(int, parts[1::3])),
            field_positions=tuple(ItemNow._fields.index(name) for name in names),
        )

    def filled(self, now: Sequence[ItemNow]) -> str:
        """The frame's HTML with each item's fields from `now` (in the order of `items`),
        escaped (by the standard library's escape: Django's checks each argument for lazy
        text first, which a page of thousands of fields pays for)."""
        html = [self.pieces[0]]
        fields = zip(self.field_items, self.field_positions, self.pieces[1:], strict=True)
        for index, position, piece in fields:
            html.append(escape(now[index][position]))
            html.append(piece)
        return SafeString("".join(html))


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
