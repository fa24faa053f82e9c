"""The operations checklist runs itself: each step names the checks that verify it, the
overview ticks or fails it with their last result and its time, and staff can run one
step's checks now."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from aixops.models import OutboxTask
from portal.health import format_scan_time
from portal.models import ChecklistItem, HealthCheck, Service
from tests.factories import client_for, make_finished_scan
from tests.pagetext import page_text

DEVOPS = "/categories/devops/"


def step(position: int) -> ChecklistItem:
    return ChecklistItem.objects.get(category__slug="devops", position=position)


def bind(check: HealthCheck, *positions: int) -> HealthCheck:
    check.checklist_items.set([step(position) for position in positions])
    return check


@pytest.fixture
def checked(catalog):
    """The three DevOps steps bound to checks that a scan left up, down and not checked."""
    at = timezone.now() - timedelta(minutes=1)
    keycloak = Service.objects.get(slug="keycloak")
    jenkins = Service.objects.get(slug="jenkins")
    flower = Service.objects.get(slug="flower")
    bind(
        HealthCheck.objects.create(
            slug="keycloak-oidc",
            service=keycloak,
            kind="oidc",
            target="https://sso.example.com/realms/aixops",
            status="up",
            detail="issuer matches, 1 signing key (RS256), clock within 30 s",
            checked_at=at,
        ),
        1,
    )
    bind(
        HealthCheck.objects.create(
            slug="jenkins-sso-redirect",
            service=jenkins,
            kind="sso-redirect",
            target="/jenkins/",
            expected="/oauth2/",
            status="down",
            detail="not protected: HTTP 200 without signing in",
            checked_at=at,
        ),
        2,
    )
    bind(HealthCheck.objects.create(slug="flower-sso", service=flower, target="/flower/"), 3)
    make_finished_scan()
    return at


def steps_of(html: str) -> str:
    """The "Operations check points" panel."""
    start = html.index('id="checklist-title"')
    return html[start : html.index("</section>", start)]


def words(html: str) -> str:
    return " ".join(page_text(html).split())


def test_each_step_shows_its_checks_last_result_and_time(checked, bob_client):
    html = bob_client.get(DEVOPS).content.decode()
    steps = steps_of(html)
    assert 'class="step-up"' in steps
    assert 'class="step-down"' in steps
    assert 'class="step-unknown"' in steps
    text = words(steps)
    assert "keycloak-oidc issuer matches, 1 signing key (RS256), clock within 30 s" in text
    assert "중단 jenkins-sso-redirect not protected: HTTP 200 without signing in" in text
    with translation.override("ko"):
        shown = format_scan_time(checked)
    assert f"clock within 30 s · {shown}" in text
    assert f'datetime="{timezone.localtime(checked).isoformat()}"' in steps
    # The compact checklist in the highlights ticks the steps too, without the details.
    highlights = html[: html.index('id="checklist-title"')]
    assert highlights.count('class="step-up"') == 1
    assert "jenkins-sso-redirect" not in highlights


def test_the_steps_read_in_english_too(checked, bob_client):
    bob_client.post("/i18n/setlang/", {"language": "en", "next": DEVOPS})
    text = words(steps_of(bob_client.get(DEVOPS).content.decode()))
    assert "down jenkins-sso-redirect not protected" in text
    assert "failed" in text and "verified" in text


def test_members_see_no_run_now_and_no_check_of_a_hidden_service(checked, bob_client):
    Service.objects.filter(slug="jenkins").update(hidden=True)
    HealthCheck.objects.get(slug="keycloak-oidc").save()  # a catalog write: fresh pages
    steps = steps_of(bob_client.get(DEVOPS).content.decode())
    assert "Run now" not in steps and "지금 실행" not in steps
    assert "jenkins-sso-redirect" not in steps


def test_staff_get_a_run_now_per_checked_step_posting_the_pages_form(checked, alice, sam):
    for person in (alice, sam):
        page = client_for(person).get(DEVOPS).content.decode()
        steps = steps_of(page)
        # Each posts the page's one form, outside the cached part, with the reader's token.
        assert steps.count('<button type="submit" form="page-post" formaction="/checklist/') == 3
        assert "csrfmiddlewaretoken" not in steps
        assert re.search(
            r'<form id="page-post" method="post" hidden><input type="hidden" '
            r'name="csrfmiddlewaretoken" value="\w+"></form>',
            page,
        )


def test_run_now_queues_the_steps_enabled_checks_after_commit(
    checked, alice, committed, http_server
):
    HealthCheck.objects.filter(slug="keycloak-oidc").update(
        kind="http", target=http_server.url("/ok"), successes_before_up=1
    )
    HealthCheck.objects.create(
        slug="disabled", service=Service.objects.get(slug="gitlab"), target="/x", enabled=False
    ).checklist_items.add(step(1))
    client = client_for(alice)
    with committed():
        response = client.post(f"/checklist/{step(1).pk}/run/")
    assert response.status_code == 302
    assert response["Location"] == f"{DEVOPS}#checklist-title"
    (queued,) = OutboxTask.objects.all()
    check = HealthCheck.objects.get(slug="keycloak-oidc")
    assert (queued.task, queued.args) == ("portal.tasks.refresh_health", [[check.pk]])
    # Run in-process (tasks are eager in tests): a scan of that check only.
    assert (check.status, check.detail) == ("up", "HTTP 200")
    assert HealthCheck.objects.get(slug="jenkins-sso-redirect").detail.startswith("not protected")
    page = client.get(response["Location"]).content.decode()
    assert "HTTP 200" in words(steps_of(page))
    assert "검사를 대기열에 넣었습니다" in page


def test_run_now_on_a_step_without_checks_says_so_and_queues_nothing(checked, alice):
    unbound = ChecklistItem.objects.get(category__slug="identity-access", position=1)
    response = client_for(alice).post(f"/checklist/{unbound.pk}/run/", follow=True)
    assert "이 단계를 검증하는 활성 검사가 없습니다" in response.content.decode()
    assert not OutboxTask.objects.exists()


def test_run_now_is_post_only(checked, alice):
    assert client_for(alice).get(f"/checklist/{step(1).pk}/run/").status_code == 405


def test_run_now_of_an_unknown_step_is_not_found(checked, alice):
    assert client_for(alice).post("/checklist/999999/run/").status_code == 404


def test_binding_a_check_to_a_step_shows_on_the_next_view(checked, bob_client):
    bob_client.get(DEVOPS)  # cached
    HealthCheck.objects.get(slug="jenkins-sso-redirect").checklist_items.add(step(3))
    steps = steps_of(bob_client.get(DEVOPS).content.decode())
    assert steps.count("jenkins-sso-redirect") == 2


def test_staff_bind_checks_from_the_steps_admin_page(checked, sam):
    client = client_for(sam)
    url = f"/admin/portal/checklistitem/{step(3).pk}/change/"
    page = client.get(url)
    (inline,) = page.context["inline_admin_formsets"]
    prefix = inline.formset.prefix
    flower = HealthCheck.objects.get(slug="flower-sso")
    jenkins = HealthCheck.objects.get(slug="jenkins-sso-redirect")
    through = HealthCheck.checklist_items.through.objects.get(
        healthcheck=flower, checklistitem=step(3)
    )
    response = client.post(
        url,
        {
            "category": step(3).category_id,
            "position": 3,
            "text": step(3).text,
            f"{prefix}-TOTAL_FORMS": 2,
            f"{prefix}-INITIAL_FORMS": 1,
            f"{prefix}-0-id": through.pk,
            f"{prefix}-0-checklistitem": step(3).pk,
            f"{prefix}-0-healthcheck": flower.pk,
            f"{prefix}-1-checklistitem": step(3).pk,
            f"{prefix}-1-healthcheck": jenkins.pk,
        },
    )
    assert response.status_code == 302
    assert set(step(3).checks.values_list("slug", flat=True)) == {
        "flower-sso",
        "jenkins-sso-redirect",
    }
