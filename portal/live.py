"""Live status: the health an open page swaps in when the page state moves (a scan
finished, the catalog or an incident changed), so that it follows the scans without a
reload (aixops/static/aixops/live.js asks portal.views.live_status).

Only what a scan changes, as the page shows it (words in the reader's language, times in
their zone, figures formatted as the cards format them) and only what the reader may
see: the same selectors as the page build it, so the same visibility rules hold.
"""

from __future__ import annotations

import json

from django.utils import timezone

from .cards import card_figures
from .health import CategoryHealth, ScanInfo
from .selectors import category_overview, home_categories
from .visibility import Limits, Reader


def category_live_json(*, slug: str, reader: Reader, scan: ScanInfo | None) -> str:
    """A category page's live health: its header, each service's and data store's card,
    and the map's dots. Http404 for a category the reader may not see."""
    overview = category_overview(slug=slug, reader=reader, scan=scan)
    category = overview.category.slug
    items = [("service", service) for service in overview.services]
    items += [("store", store) for store in overview.data_stores]
    return json.dumps(
        {
            "header": _header(overview.health),
            "items": {f"{kind}:{category}/{item.slug}": _item(item.health) for kind, item in items},
            "map": {
                node.key: {"status": node.status, "label": node.status_label or node.status}
                for node in overview.architecture_map.nodes
            },
        }
    )


def home_live_json(*, reader: Reader, limits: Limits, scan: ScanInfo | None) -> str:
    """The home page's live health: each category's status."""
    categories = home_categories(reader=reader, limits=limits, with_health=True, scan=scan)
    return json.dumps(
        {
            "categories": {
                f"category:{category.slug}": _status(category.health) for category in categories
            }
        }
    )


def _status(health: CategoryHealth) -> dict:
    return {
        "status": health.status,
        "label": str(health.label),
        "coverage": health.monitored_label if health.partly_monitored else "",
    }


def _header(health: CategoryHealth) -> dict | None:
    """The header's scan line (portal/_health_line.html); None before the first scan."""
    if health.scan is None:
        return None
    finished = timezone.localtime(health.scan.finished_at)
    return {
        **_status(health),
        "time": health.scan.time_display,
        "datetime": finished.isoformat(timespec="seconds"),
    }


def _item(health) -> dict:
    """A card's health (portal/cards.py): its status, words and figures."""
    return {
        "status": health.status,
        "label": str(health.label),
        "detail": health.detail,
        **card_figures(health),
    }
