"""A category page's health cards are written in Python (portal/cards.py) for speed, and
read exactly as the templates they replace wrote them (tests/portal/*_before.html: the
card, portal/_item_health.html, and the page's health layer as they were), in every
language."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.template import engines
from django.template.loader import render_to_string
from django.utils import translation

from portal.cards import HealthCards
from portal.health import ItemHealth, ScanInfo
from portal.models import Category, HealthCheck, Service
from portal.selectors import category_overview
from portal.sparklines import Sparkline
from portal.status import Slo
from portal.visibility import Reader
from tests.factories import make_checks, make_finished_scan

BEFORE = engines["django"].from_string(
    (Path(__file__).parent / "item_health_before.html").read_text()
)


def item(health, slo=None):
    return SimpleNamespace(health=health, slo=slo)


CARDS = {
    "never probed": item(ItemHealth()),
    "up, every figure and a broken sparkline": item(
        ItemHealth(
            status="up",
            latency_ms=41.6,
            uptime_24h=99.5,
            uptime_7d=100.0,
            checked=True,
            sparkline=Sparkline.from_latencies([40.0, 52.5, None, 38.0, 61.2]),
        ),
        slo=Slo(99.0, 30, 99.71),
    ),
    "down, no figures, a detail to escape": item(
        ItemHealth(status="down", detail='HTTP 503 <b>"busy"</b> & co', checked=True),
        slo=Slo(99.9, 7, 98.0),
    ),
    "waiting for confirmation": item(
        ItemHealth(unconfirmed="down", checked=True, latency_ms=0.4), slo=Slo(99.0, 7, None)
    ),
    "depends on stores that are down": item(
        ItemHealth(
            status="degraded",
            checked=True,
            uptime_24h=87.25,
            dependencies_down=[("Main <DB>", "down"), ("Cache & Queue", "down")],
        )
    ),
}


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("case", CARDS)
def test_a_card_reads_as_the_template_wrote_it(case, language):
    with translation.override(language):
        assert HealthCards().card(CARDS[case]) == BEFORE.render({"item": CARDS[case]})


def test_one_set_of_cards_serves_every_card_of_a_page():
    with translation.override("ko"):
        cards = HealthCards()  # in the page's language, as each render makes one
        written = [cards.card(card) for card in CARDS.values()]
        assert written == [BEFORE.render({"item": card}) for card in CARDS.values()]
    assert "의존 저장소 Main &lt;DB&gt;: " in written[-1]


LAYER_BEFORE = engines["django"].from_string(
    (Path(__file__).parent / "category_health_before.html").read_text()
)


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("staff", [False, True])
def test_a_category_pages_health_layer_reads_as_before(catalog, language, staff):
    for category in Category.objects.all():
        make_checks(category)
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down", detail="<503>")
    HealthCheck.objects.filter(data_store__isnull=False).update(status="down")
    Service.objects.filter(slug="flower").update(hidden=True)
    scan = make_finished_scan()
    with translation.override(language):
        overview = category_overview(
            slug="devops", reader=Reader(staff=staff), scan=ScanInfo.of(scan.pk, scan.finished_at)
        )
        context = {"overview": overview, "item_health_before": BEFORE}
        layer = render_to_string("portal/_category_health.html", context)
        assert layer == LAYER_BEFORE.render(context)
    assert "health-dependency" in layer and "&lt;503&gt;" in layer
    assert (f"dot:service-{Service.objects.get(slug='flower').pk}" in layer) == staff
