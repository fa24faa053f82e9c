"""The health card of a service or data store, as HTML: its status in words, its figures
(latency, uptimes), its latency sparkline, its SLO and the data stores it depends on that
are down.

A category's page has a card per item, thousands in a large catalog, and a scan renders
all of them again (portal.pages.category_page). Written in Python, each value escaped as
the template escaped it, rather than a template included per card: the include machinery
(a context per card, each variable resolved through it, each word translated again) cost
far more than the cards' text. The words are translated and the figures formatted once
per page (`HealthCards`), with the same gettext and `floatformat` the template used, so
the cards read as they always did (tests/portal/test_health_cards.py holds that template).
"""

from __future__ import annotations

import html

from django.template.defaultfilters import floatformat
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from .health import ItemHealth
from .sparklines import Sparkline

# What a card shows for a figure it has no value for.
NO_FIGURE = "\u2013"  # an en dash
# A card's figures, in the order it shows them: (name, ItemHealth attribute, floatformat
# digits, unit). Live status (portal.live) sends the same figures, formatted alike.
CARD_FIGURES = (
    ("latency", "latency_ms", "0", " ms"),
    ("uptime_24h", "uptime_24h", "-1", "%"),
    ("uptime_7d", "uptime_7d", "-1", "%"),
)


def card_figures(health: ItemHealth) -> dict[str, str]:
    """A card's figures as text (not HTML), by name: what live status swaps in."""
    return {
        name: NO_FIGURE if value is None else f"{floatformat(value, digits)}{unit}"
        for name, attribute, digits, unit in CARD_FIGURES
        for value in [getattr(health, attribute)]
    }


CARD = (
    '<div class="health health-{}">\n'
    '  <p class="health-status"{}><span class="dot" aria-hidden="true"></span>{}</p>\n'
    "  \n"
    "  {}\n"
    "  {}\n"
    "</div>\n"
)
# A card with figures (an item that has been probed): the headings (`{latency}`, …) are
# filled in once per page (HealthCards), the rest (`{{}}`) per card.
CHECKED_CARD = (
    '<div class="health health-{{}}">\n'
    '  <p class="health-status"{{}}><span class="dot" aria-hidden="true"></span>{{}}</p>\n'
    '  <dl class="health-figures">\n'
    '    <div><dt>{latency}</dt><dd data-live-figure="latency">{{}}</dd></div>\n'
    '    <div><dt>{uptime_24h}</dt><dd data-live-figure="uptime_24h">{{}}</dd></div>\n'
    '    <div><dt>{uptime_7d}</dt><dd data-live-figure="uptime_7d">{{}}</dd></div>\n'
    "  </dl>{{}}\n"
    "  {{}}\n"
    "  {{}}\n"
    "</div>\n"
)
# Between a sparkline's segments (`HealthCards._sparkline`), each a polyline.
POLYLINES_BETWEEN = '"/><polyline points="'
SPARKLINE_HEAD = (
    f'\n  <svg class="sparkline" viewBox="0 0 {Sparkline.WIDTH} {Sparkline.HEIGHT}"'
    f' width="{Sparkline.WIDTH}" height="{Sparkline.HEIGHT}" role="img" aria-label="'
)


class HealthCards:
    """Cards for one page, in the active language: each word translated and each figure
    formatted once, however many cards show it."""

    def __init__(self):
        # As {% translate %} writes them: escaped (and their braces doubled, to stay text
        # in the format they are written into).
        headings = {
            "latency": escape(gettext("Latency")),
            "uptime_24h": escape(gettext("Uptime 24 h")),
            "uptime_7d": escape(gettext("Uptime 7 d")),
        }
        self._checked_card = CHECKED_CARD.format(
            **{name: text.replace("{", "{{").replace("}", "}}") for name, text in headings.items()}
        )
        self._peak = gettext("Latency of recent scans, peak %(peak)s ms")
        self._depends = gettext("depends on %(name)s: %(status)s")
        # Each escaped once, and kept as plain str: formatting a SafeString into a card
        # calls its __str__, in Python, thousands of times a page.
        self._labels: dict[tuple[str, str], str] = {}
        self._statuses: dict[str, str] = {}
        self._peak_labels: dict[float, str] = {}
        self._figures: dict[tuple[float, str, str], str] = {}

    def card(self, item) -> SafeString:
        """The card of `item`, a service or data store with its `health` (and `slo`, when
        the selector attached one)."""
        # One str.format per card, each value escaped here as the template escaped it:
        # format_html would escape every piece again, already safe or not, which is most
        # of the cost of a page of cards.
        health: ItemHealth = item.health
        # html.escape is what Django's escape does to a str, without its check for lazy
        # text (here and below).
        title = f' title="{html.escape(health.detail)}"' if health.detail else ""
        slo = getattr(item, "slo", None)
        slo_line = (
            format_html(
                '<p class="slo slo-{}" data-slo>{}</p>',
                "missed" if slo.met is False else "kept",
                slo.label,
            )
            if slo
            else ""
        )
        dependencies = (
            format_html_join(
                "",
                '<p class="health-dependency">{}</p>',
                (
                    (self._words(self._depends, name=name, status=status),)
                    for name, status in health.dependencies_down_shown
                ),
            )
            if health.dependencies_down
            else ""
        )
        # SafeString rather than mark_safe, here and below: the same, without the check
        # for lazy text each of thousands of calls makes.
        if not health.checked:
            return SafeString(
                CARD.format(self.status(health), title, self.label(health), slo_line, dependencies)
            )
        return SafeString(
            self._checked_card.format(
                self.status(health),
                title,
                self.label(health),
                *[
                    self._figure(getattr(health, attribute), digits, unit)
                    for _name, attribute, digits, unit in CARD_FIGURES
                ],
                self._sparkline(health.sparkline) if health.sparkline else "",
                slo_line,
                dependencies,
            )
        )

    def _sparkline(self, sparkline: Sparkline) -> str:
        peak_label = self._peak_labels.get(sparkline.peak_ms)
        if peak_label is None:
            peak = escape(floatformat(sparkline.peak_ms, "0"))
            peak_label = self._peak_labels[sparkline.peak_ms] = self._words(self._peak, peak=peak)
        # Points are numbers a scan wrote, escaped all the same.
        lines = POLYLINES_BETWEEN.join(map(html.escape, sparkline.segments))
        return f'{SPARKLINE_HEAD}{peak_label}"><polyline points="{lines}"/></svg>'

    def status(self, health: ItemHealth) -> str:
        """The item's status, escaped (one of a few words, escaped once each)."""
        status = self._statuses.get(health.status)
        if status is None:
            status = self._statuses[health.status] = html.escape(health.status)
        return status

    def label(self, health: ItemHealth) -> str:
        """The item's status in words, escaped."""
        key = (health.status, health.unconfirmed)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = html.escape(str(health.label))
        return label

    def _figure(self, value: float | None, digits: str, unit: str) -> str:
        if value is None:
            return NO_FIGURE
        key = (value, digits, unit)
        figure = self._figures.get(key)
        if figure is None:
            figure = self._figures[key] = f"{html.escape(floatformat(value, digits))}{unit}"
        return figure

    @staticmethod
    def _words(translated: str, **values) -> SafeString:
        # As {% blocktranslate %} writes it: the values escaped, the translation (ours,
        # from the catalogs) as it is.
        escaped = {name: conditional_escape(value) for name, value in values.items()}
        return mark_safe(translated % escaped)  # noqa: S308
