"""The open-incident banner in a real browser, at desktop and phone widths; screenshots are
kept."""

import pytest
from django.core.management import call_command

from portal.incidents import incident_post_update
from portal.models import Category, DataStore, HealthCheck, Incident
from tests.browser import ARTIFACTS, chromium, sideways_overflow, signed_in_context
from tests.factories import client_for, make_checks, make_finished_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member_session(live_server, django_user_model):
    """GitLab's database is down, with GitLab and an admin's update on the incident."""
    call_command("loaddata", "catalog", verbosity=0)
    make_checks(Category.objects.get(slug="devops"))
    HealthCheck.objects.filter(data_store__slug="gitlab-postgresql").update(status="down")
    make_finished_scan()
    store = DataStore.objects.get(slug="gitlab-postgresql")
    incident = Incident.objects.create(
        title=store.name,
        category=store.category,
        data_store=store,
        cause=store.slug,
        affected=["gitlab"],
    )
    incident_post_update(
        incident=incident, state="identified", text="디스크가 가득 찼습니다. 정리 중입니다."
    )
    return client_for(django_user_model.objects.create_user(username="bob", membership="approved"))


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})],
)
def test_the_incident_banner_heads_the_page_and_reflows(
    live_server, member_session, name, viewport
):
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, member_session, viewport=viewport, locale="ko-KR"
        )
        page = context.new_page()
        for path, shot in [("/categories/devops/", "devops"), ("/", "home")]:
            assert page.goto(f"{live_server.url}{path}").ok
            banner = page.locator(".incident-banner")
            assert banner.is_visible()
            assert banner.locator("h2").inner_text() == "진행 중인 장애"
            text = banner.inner_text()
            assert "GitLab Internal PostgreSQL" in text
            assert "원인 확인" in text and "함께 영향받는 항목: gitlab" in text
            assert "디스크가 가득 찼습니다. 정리 중입니다." in text
            # Above everything else the page says.
            assert banner.bounding_box()["y"] < page.locator("h1").bounding_box()["y"]
            overflow = sideways_overflow(page)
            assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {name} width"
            image = ARTIFACTS / f"incident-banner-{shot}-{name}.png"
            page.screenshot(path=str(image))
            assert image.stat().st_size > 10_000
        context.close()
