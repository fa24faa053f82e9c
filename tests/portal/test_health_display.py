"""What people see of health: the category header, the cards, the home page, the API,
the admin, and pages that keep working when the broker or the workers are down."""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from aixops.celery import app as celery_app
from portal.models import (
    Category,
    ChecklistItem,
    CheckResult,
    HealthCheck,
    MaintenanceWindow,
    Scan,
    Service,
)
from tests.factories import make_checks, make_finished_scan
from tests.pagetext import page_text, squeeze
from tests.subprocesses import TEST_REDIS_URL


@pytest.fixture
def checked(catalog):
    """Every seed item has a check and is up; no scan has finished yet."""
    for category in Category.objects.all():
        make_checks(category)


def devops(client, **headers) -> str:
    response = client.get("/categories/devops/", **headers)
    assert response.status_code == 200
    return response.content.decode()


def text_of(html: str) -> str:
    return squeeze(page_text(html))


def set_status(status, **lookup):
    HealthCheck.objects.filter(**lookup).update(status=status)


def test_header_in_english_shows_the_time_with_seconds(checked, bob_client):
    scan = make_finished_scan()
    bob_client.cookies["django_language"] = "en"
    page = devops(bob_client)
    shown = timezone.localtime(scan.finished_at).strftime("%-I:%M:%S %p")
    assert squeeze(f"Last Scan: {shown} • System Optimal") in text_of(page)
    assert 'data-scan-status="optimal"' in page


def test_header_follows_the_readers_time_zone_as_the_browser_writes_it(checked, bob_client):
    scan = make_finished_scan()
    bob_client.cookies["django_language"] = "en"
    # portal.js writes encodeURIComponent(zone), and cookies arrive as written.
    bob_client.cookies["tz"] = "America%2FNew_York"
    page = devops(bob_client)
    local = scan.finished_at.astimezone(timezone.zoneinfo.ZoneInfo("America/New_York"))
    shown = f"{local:%-I:%M:%S %p} {local:%Z}"  # EST or EDT: not the portal's zone, so named
    assert squeeze(f"Last Scan: {shown} • System Optimal") in text_of(page)
    assert (
        f'<time datetime="{local.isoformat(timespec="seconds")}" data-time-zone="America/New_York">'
    ) in page


def test_the_portals_own_zone_goes_unnamed(checked, bob_client, settings):
    scan = make_finished_scan()
    bob_client.cookies["django_language"] = "en"
    bob_client.cookies["tz"] = "Asia%2FSeoul"
    local = timezone.localtime(scan.finished_at, timezone.zoneinfo.ZoneInfo(settings.TIME_ZONE))
    assert squeeze(f"Last Scan: {local:%-I:%M:%S %p} • System") in text_of(devops(bob_client))


def test_an_unknown_time_zone_cookie_is_ignored(checked, bob_client):
    make_finished_scan()
    bob_client.cookies["tz"] = "Mars/Olympus_Mons"
    assert "LastScan:" in text_of(devops(bob_client))


@pytest.mark.parametrize(
    ("lookup", "status", "label"),
    [
        ({"service__slug": "jenkins"}, "down", "Major Outage"),
        ({"service__slug": "gitlab-runner"}, "down", "Partial Outage"),
        ({"data_store__slug": "gitlab-redis"}, "down", "Partial Outage"),
        ({"service__slug": "flower"}, "degraded", "Degraded"),
    ],
)
def test_header_aggregates_the_category(checked, bob_client, lookup, status, label):
    set_status(status, **lookup)
    make_finished_scan()
    assert f"•{label.replace(' ', '')}" in text_of(devops(bob_client))


def test_maintenance_reads_maintenance_not_outage(checked, bob_client):
    set_status("down", service__slug="jenkins")
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=Service.objects.get(slug="jenkins"),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    make_finished_scan()
    text = text_of(devops(bob_client))
    assert "•Maintenance" in text
    assert "점검중" in text


def test_stale_scan_says_so_and_points_to_flower(checked, bob_client, settings):
    settings.FLOWER_URL = "/flower/"
    make_finished_scan(at=timezone.now() - timedelta(minutes=10))
    page = devops(bob_client)
    assert "•Stale" in text_of(page)
    assert 'class="stale-warning"' in page
    assert '<a href="/flower/">Flower</a>' in page
    assert "System Optimal" in page  # the last known status, in words


def test_no_scan_yet_keeps_saying_so(checked, bob_client):
    assert "LastScan:아직스캔없음" in text_of(devops(bob_client))


def test_cards_show_status_latency_uptime_and_a_sparkline(checked, bob_client):
    make_finished_scan()
    page = devops(bob_client)
    assert page.count('class="health health-up"') == 9  # 5 services and 4 stores
    assert page.count('class="sparkline"') == 9
    text = text_of(page)
    assert "정상" in text and "42ms" in text
    assert "가동률24시간99.5%" in text and "가동률7일99.9%" in text


def test_a_service_card_says_when_a_store_it_uses_is_down(checked, bob_client):
    set_status("down", data_store__slug="gitlab-postgresql")
    make_finished_scan()
    bob_client.cookies["django_language"] = "en"
    text = text_of(devops(bob_client))
    assert "dependsonGitLabInternalPostgreSQL:down" in text


def test_a_category_with_nothing_checked_reads_status_unknown(catalog, bob_client):
    make_finished_scan()
    page = devops(bob_client)
    assert 'data-scan-status="unknown"' in page
    assert "•상태미확인•9개중0개모니터링" in text_of(page)
    bob_client.cookies["django_language"] = "en"
    assert "•Statusunknown•0of9monitored" in text_of(devops(bob_client))
    assert "System Optimal" not in devops(bob_client)


@pytest.fixture
def local_checks(catalog):
    """As bin/run leaves it: the checks of health_checks_local.yaml, all answered; the
    other six items of DevOps and three of Identity & Access have no check."""
    from django.core.management import call_command

    call_command("loaddata", "health_checks_local", verbosity=0)
    HealthCheck.objects.update(status="up", checked_at=timezone.now())
    make_finished_scan()


def test_a_partly_checked_category_says_how_many_items_its_status_rests_on(
    local_checks, bob_client
):
    bob_client.cookies["django_language"] = "en"
    page = devops(bob_client)
    assert "•SystemOptimal•3of9monitored" in text_of(page)
    assert 'data-monitored="3" data-items="9"' in page
    home = bob_client.get("/").content.decode()
    assert text_of(home).count("SystemOptimal•3of9monitored") == 1  # DevOps
    # Identity & Access: only Keycloak (the dev provider's realm) runs locally.
    assert text_of(home).count("SystemOptimal•1of4monitored") == 1


def test_the_api_carries_the_same_counts(local_checks, bob_client):
    health = bob_client.get("/api/categories/devops/").json()["health"]
    assert (health["status"], health["items"], health["monitored"]) == ("optimal", 9, 3)
    categories = {c["slug"]: c for c in bob_client.get("/api/health/").json()["categories"]}
    assert (categories["devops"]["items"], categories["devops"]["monitored"]) == (9, 3)
    identity = categories["identity-access"]
    assert (identity["status"], identity["items"], identity["monitored"]) == ("optimal", 4, 1)


def test_an_item_awaiting_its_first_confirmed_result_is_not_monitored_yet(local_checks, bob_client):
    first_probe(HealthCheck.objects.get(slug="flower-local"), "down")
    bob_client.cookies["django_language"] = "en"
    assert "•SystemOptimal•2of9monitored" in text_of(devops(bob_client))


def test_a_fully_checked_category_shows_no_count(checked, bob_client):
    make_finished_scan()
    page = devops(bob_client)
    assert "scan-coverage" not in page
    assert "개모니터링" not in text_of(page)


def test_unchecked_items_say_not_checked_yet(catalog, bob_client):
    make_finished_scan()
    assert "미확인" in text_of(devops(bob_client))


def first_probe(check: HealthCheck, outcome: str) -> None:
    """A check that has just been added, then probed once, as a scan records it."""
    check.status, check.consecutive_failures, check.consecutive_successes = "unknown", 0, 0
    check.keep_latencies([])
    latency = None if outcome == "down" else 35.0
    check.record(outcome, latency_ms=latency, detail="", at=timezone.now())
    check.save()


def card_health(html: str, name: str) -> str:
    """The health line of the service card titled `name`."""
    card = html[html.index(f">{name}</a></h3>") :]
    line = card[card.index('<p class="health-status"') :]
    return text_of(line[: line.index("</p>") + 4])


def test_a_probed_item_not_yet_confirmed_says_what_the_probe_saw(checked, bob_client):
    # Flap control holds a new check's status back (failures_before_down = 2,
    # successes_before_up = 2 here); the card says what the first probe saw, not that
    # nothing was checked.
    first_probe(HealthCheck.objects.get(service__slug="jenkins"), "down")
    gitlab = HealthCheck.objects.get(service__slug="gitlab")
    gitlab.successes_before_up = 2
    first_probe(gitlab, "up")
    HealthCheck.objects.filter(service__slug="flower").update(status="unknown", checked_at=None)
    make_finished_scan()
    assert card_health(devops(bob_client), "Jenkins") == "실패—재확인중"
    bob_client.cookies["django_language"] = "en"
    page = devops(bob_client)
    assert card_health(page, "Jenkins") == "failed,checkingagain"
    assert card_health(page, "GitLab") == "answered,checkingagain"
    assert card_health(page, "Flower") == "notcheckedyet"
    assert "•SystemOptimal" in text_of(page)  # unconfirmed failures do not count yet

    services = bob_client.get("/api/categories/devops/").json()["services"]
    health = {service["slug"]: service["health"] for service in services}
    assert (health["jenkins"]["status"], health["jenkins"]["unconfirmed"]) == ("unknown", "down")
    assert (health["gitlab"]["status"], health["gitlab"]["unconfirmed"]) == ("unknown", "up")
    assert (health["flower"]["status"], health["flower"]["unconfirmed"]) == ("unknown", None)
    assert health["admin-ui"]["unconfirmed"] is None


def test_home_shows_each_categorys_status(checked, bob_client):
    set_status("down", data_store__slug="keycloak-postgresql")
    make_finished_scan()
    page = bob_client.get("/").content.decode()
    assert 'data-category-status="optimal"' in page
    assert 'data-category-status="partial_outage"' in page


def test_api_health_gives_categories_services_and_stores(checked, bob_client):
    set_status("down", service__slug="gitlab")
    scan = make_finished_scan()
    body = bob_client.get("/api/health/").json()
    assert body["last_scan"]["id"] == scan.pk
    assert body["last_scan"]["stale"] is False
    statuses = {c["slug"]: c["status"] for c in body["categories"]}
    assert statuses == {
        "devops": "major_outage",
        "identity-access": "optimal",
        "workspaces": "optimal",
    }
    gitlab = next(s for s in body["services"] if s["slug"] == "gitlab")
    assert gitlab["status"] == "down" and gitlab["category"] == "devops"
    assert {"latency_ms", "uptime_24h", "uptime_7d"} <= set(gitlab)
    assert len(body["data_stores"]) == 8


def test_api_category_includes_its_health(checked, bob_client):
    scan = make_finished_scan()
    body = bob_client.get("/api/categories/devops/").json()
    assert body["last_scan"]["id"] == scan.pk
    assert body["health"]["status"] == "optimal"
    assert body["health"]["label"] == "System Optimal"
    assert body["services"][0]["health"]["status"] == "up"


def test_api_health_needs_a_signed_in_member(catalog, client):
    assert client.get("/api/health/").status_code == 401


class TestBrokerDown:
    """With CELERY_BROKER_URL on a closed port, pages still render, from the database."""

    @pytest.fixture(autouse=True)
    def broker_down(self, settings, refused_port):
        url = f"redis://127.0.0.1:{refused_port}/0"
        settings.CELERY_BROKER_URL = url
        previous = celery_app.conf.broker_url
        celery_app.conf.broker_url = url
        yield
        celery_app.conf.broker_url = previous

    def test_pages_render_with_the_last_known_state_and_stale(self, checked, bob_client):
        make_finished_scan(at=timezone.now() - timedelta(minutes=30))
        assert "•Stale" in text_of(devops(bob_client))
        home = bob_client.get("/")
        assert home.status_code == 200
        assert 'data-category-status="stale"' in home.content.decode()
        api = bob_client.get("/api/health/").json()
        assert {c["status"] for c in api["categories"]} == {"stale"}
        assert {c["last_known"] for c in api["categories"]} == {"optimal"}

    def test_scan_now_says_the_broker_is_unreachable(
        self, catalog, alice_client, tasks_go_to_the_broker
    ):
        response = alice_client.post("/admin/portal/scan/scan-now/", follow=True)
        assert response.status_code == 200
        assert "브로커에 연결할 수 없습니다" in response.content.decode()


class TestAdmin:
    def test_scans_and_results_are_browsable_and_read_only(self, checked, alice_client):
        scan = make_finished_scan()
        check = HealthCheck.objects.first()
        CheckResult.objects.create(
            scan=scan, health_check=check, checked_at=scan.finished_at, outcome="up", status="up"
        )
        for url in [
            "/admin/portal/scan/",
            f"/admin/portal/scan/{scan.pk}/change/",
            "/admin/portal/checkresult/?status__exact=up",
            "/admin/portal/healthcheck/?kind__exact=tcp",
            "/admin/portal/maintenancewindow/",
        ]:
            assert alice_client.get(url).status_code == 200, url
        assert alice_client.get("/admin/portal/scan/add/").status_code == 403
        alice_client.post(f"/admin/portal/scan/{scan.pk}/delete/", {"post": "yes"})
        assert Scan.objects.filter(pk=scan.pk).exists()
        assert "지금 스캔" in alice_client.get("/admin/portal/scan/").content.decode()

    def test_scan_now_queues_the_task(
        self, catalog, alice_client, settings, tasks_go_to_the_broker
    ):
        settings.CELERY_BROKER_URL = TEST_REDIS_URL
        queue = redis.Redis.from_url(TEST_REDIS_URL)
        before = queue.llen("celery")
        try:
            response = alice_client.post("/admin/portal/scan/scan-now/", follow=True)
            assert response.status_code == 200
            assert "Flower" in response.content.decode()
            assert queue.llen("celery") == before + 1
        finally:
            # Nobody consumes the tests' Redis database: take our message (the newest,
            # kombu pushes on the left) back out.
            if queue.llen("celery") > before:
                queue.lpop("celery")

    def test_scan_now_refuses_get(self, catalog, alice_client):
        assert alice_client.get("/admin/portal/scan/scan-now/").status_code == 405

    def test_members_cannot_scan(self, catalog, bob_client):
        response = bob_client.post("/admin/portal/scan/scan-now/")
        assert response.status_code == 302

    def test_admin_refuses_a_file_url_naming_the_field(self, catalog, alice_client):
        response = self.add_check(alice_client, slug="gitlab-file", target="file:///etc/passwd")
        assert response.status_code == 200
        assert set(response.context["adminform"].form.errors) == {"target"}
        assert not HealthCheck.objects.filter(slug="gitlab-file").exists()

    def test_admin_adds_a_sign_in_redirect_bound_to_a_checklist_step(self, catalog, sam, client):
        client.force_login(sam)
        step = ChecklistItem.objects.get(category__slug="devops", position=2)
        fields = {"slug": "jenkins-sso", "kind": "sso-redirect", "target": "/jenkins/"}
        refused = self.add_check(client, **fields)
        assert set(refused.context["adminform"].form.errors) == {"expected"}
        response = self.add_check(client, **fields, expected="/oauth2/", checklist_items=[step.pk])
        assert response.status_code == 302
        check = HealthCheck.objects.get(slug="jenkins-sso")
        assert list(check.checklist_items.all()) == [step]

    def test_staff_cannot_point_a_check_at_the_metadata_service(self, catalog, sam, client):
        client.force_login(sam)
        response = self.add_check(
            client, slug="gitlab-metadata", target="http://2852039166/latest/meta-data/"
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert set(errors) == {"target"}
        assert "2852039166 (169.254.169.254)" in errors["target"][0]
        assert "HEALTH_CHECK_DENY_NETWORKS (169.254.0.0/16)" in errors["target"][0]
        assert not HealthCheck.objects.filter(slug="gitlab-metadata").exists()

    def test_admin_refuses_a_condition_padded_with_spaces_at_once(self, catalog, alice_client):
        started = time.perf_counter()
        response = self.add_check(
            alice_client,
            slug="gitlab-spaces",
            target="/gitlab/",
            conditions="[STATUS] == 200" + " " * 120_000 + "x",
        )
        assert time.perf_counter() - started < 2
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert set(errors) == {"conditions"}
        assert "at most 5000 characters" in errors["conditions"][0]
        assert not HealthCheck.objects.filter(slug="gitlab-spaces").exists()

    @staticmethod
    def add_check(client, **fields):
        """Post the admin's add form for a GitLab HTTP check, with `fields` changed."""
        form = {
            "service": Service.objects.get(slug="gitlab").pk,
            "enabled": "on",
            "position": 0,
            "kind": "http",
            "method": "GET",
            "accepted_statuses": "200-399",
            "timeout": 5,
            "degraded_after_ms": 1000,
            "conditions": "",
            "failures_before_down": 2,
            "successes_before_up": 1,
            "warn_days": 14,
            "max_queue_length": 100,
            **fields,
        }
        return client.post("/admin/portal/healthcheck/add/", form)
