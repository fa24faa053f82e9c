"""The checklist with live ticks in a real browser, in Korean and English; staff run one
step's checks from the page. Screenshots are kept (artifacts/screenshots/)."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from portal.models import ChecklistItem, HealthCheck
from tests.browser import ARTIFACTS, chromium, signed_in_context
from tests.factories import make_finished_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_session(live_server, http_server, django_user_model):
    """The seed with the production health checks: step 1 verified, step 2 failed (Jenkins
    answers anonymous visitors itself), step 3 not checked yet; alice is staff."""
    call_command("loaddata", "catalog", "health_checks", verbosity=0)
    now = timezone.now()
    HealthCheck.objects.filter(slug="keycloak-oidc").update(
        status="up",
        detail="issuer matches, 1 signing key (RS256), clock within 30 s, "
        "authorization request of gitlab accepted",
        checked_at=now,
    )
    HealthCheck.objects.filter(slug="gitlab-sso-redirect").update(
        status="up",
        detail="sends to sign in: HTTP 302 to https://platform.example.com/gitlab/users/sign_in",
        checked_at=now,
    )
    # Jenkins' check aims at a loopback app that answers its own page: Run now finds it so.
    HealthCheck.objects.filter(slug="jenkins-sso-redirect").update(
        target=http_server.url("/ok"), failures_before_down=1
    )
    make_finished_scan()
    alice = django_user_model.objects.create_user(
        username="alice", is_staff=True, is_superuser=True, membership="approved"
    )
    client = Client()
    client.force_login(alice)
    return client


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_the_checklist_ticks_live_and_staff_run_a_step(live_server, staff_session, locale):
    jenkins_step = ChecklistItem.objects.get(category__slug="devops", position=2)
    with chromium() as browser:
        context = signed_in_context(
            browser, live_server, staff_session, locale=locale, timezone_id="Asia/Seoul"
        )
        page = context.new_page()
        assert page.goto(f"{live_server.url}/categories/devops/").ok
        panel = page.locator("section[aria-labelledby=checklist-title]")
        assert panel.locator("li.step-up .step").first.inner_text() == "✓"
        panel.locator(f"button[formaction='/checklist/{jenkins_step.pk}/run/']").click()
        page.wait_for_load_state()
        assert panel.locator("li.step-down .step").inner_text() == "✗"
        assert "not protected: HTTP 200 without signing in" in panel.inner_text()
        panel.screenshot(path=ARTIFACTS / f"checklist-{locale}.png")
