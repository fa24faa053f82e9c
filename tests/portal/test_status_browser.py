"""The status page and a badge in a real browser, at desktop and phone widths; screenshots
are kept."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.models import Category, HealthCheck, HealthRollup, Incident, Service
from tests.browser import ARTIFACTS, chromium, sideways_overflow, signed_in_context
from tests.factories import client_for, day_rollup, make_checks, make_finished_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member_session(live_server, django_user_model):
    """The seed catalog with 60 days of history: a bad week for Jenkins two weeks ago, an
    SLO on GitLab, and Jenkins down now with an open incident."""
    call_command("loaddata", "catalog", verbosity=0)
    make_checks(Category.objects.get(slug="devops"))
    make_checks(Category.objects.get(slug="identity-access"))
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down")
    Service.objects.filter(slug="gitlab").update(slo_target=99.5, public_badge=True)
    make_finished_scan()
    today = timezone.localdate()
    HealthRollup.objects.bulk_create(
        day_rollup(
            check,
            today - timedelta(days=n),
            total=1440,
            down=(
                300
                if check.service_id and check.service.slug == "jenkins" and 14 <= n < 21
                else n % 3
            ),
        )
        for check in HealthCheck.objects.select_related("service")
        for n in range(60)
    )
    jenkins = Service.objects.get(slug="jenkins")
    Incident.objects.create(
        title="Jenkins", category=jenkins.category, service=jenkins, cause="jenkins"
    )
    return client_for(django_user_model.objects.create_user(username="bob", membership="approved"))


def drawn_days(bar) -> dict[str, int]:
    """How many days of each colour band an uptime bar draws: its lines' lengths."""
    return bar.evaluate(
        """svg => {
            const days = {};
            for (const path of svg.querySelectorAll("path")) {
                const band = path.getAttribute("class").replace("day-", "");
                days[band] = (days[band] || 0) + Math.round(path.getTotalLength());
            }
            return days;
        }"""
    )


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("desktop", {"width": 1440, "height": 900}), ("phone", {"width": 390, "height": 844})],
)
def test_the_status_page_draws_a_bar_per_day_and_reflows(
    live_server, member_session, name, viewport
):
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, member_session, viewport=viewport, locale="ko-KR"
        )
        page = context.new_page()
        assert page.goto(f"{live_server.url}/status/").ok
        assert page.locator("h1").inner_text() == "상태"
        assert page.locator(".incident-banner").is_visible()
        gitlab = page.locator('[data-item="gitlab"] .uptime-bar')
        assert "오류 예산" in page.locator('[data-item="gitlab"] .slo').inner_text()
        assert gitlab.get_attribute("aria-label").startswith("GitLab: 최근 90일 가동률 99.")
        # Every day is drawn (its lines are a day long each), however narrow the screen,
        # at least a pixel wide.
        assert drawn_days(gitlab) == {"ok": 40, "minor": 20, "none": 30}
        assert gitlab.bounding_box()["width"] / 90 > 1
        jenkins = page.locator('[data-item="jenkins"] .uptime-bar')
        assert drawn_days(jenkins)["bad"] == 7
        # Pointing at a day of Jenkins's bad week tells its date and uptime.
        box = jenkins.bounding_box()
        jenkins.hover(position={"x": box["width"] * (89 - 17 + 0.5) / 90, "y": box["height"] / 2})
        tip = page.locator(".uptime-tip")
        day = (timezone.localdate() - timedelta(days=17)).isoformat()
        assert tip.is_visible() and tip.inner_text() == f"{day}: 79.17%"
        overflow = sideways_overflow(page)
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {name} width"
        image = ARTIFACTS / f"status-page-{name}.png"
        page.screenshot(path=str(image), full_page=True)
        assert image.stat().st_size > 10_000
        if name == "desktop":
            badge = page.goto(f"{live_server.url}/badges/devops/gitlab/uptime-30d.svg")
            assert badge.ok and badge.headers["content-type"].startswith("image/svg+xml")
            image = ARTIFACTS / "status-badge-gitlab-uptime-30d.png"
            page.locator("svg").screenshot(path=str(image))
            assert image.stat().st_size > 500
        context.close()
