"""The JSON API returns what the pages show, counts included."""

from portal.models import Category, HealthCheck, Service
from tests.factories import make_checks, make_finished_scan


def test_category_list_shape(catalog, bob_client):
    response = bob_client.get("/api/categories/")
    assert response.status_code == 200
    categories = response.json()["categories"]
    assert [c["slug"] for c in categories] == ["devops", "identity-access", "workspaces"]
    devops = categories[0]
    assert devops == {
        "slug": "devops",
        "name": "DevOps",
        "title": "DevOps Guide",
        "summary": "Source control, CI/CD, job automation, and task execution visibility",
        "url": "http://testserver/categories/devops/",
        "counts": {
            "visible_apps": 4,
            "hidden_apps": 0,
            "supporting": 1,
            "data_stores": 4,
            "checklist_items": 3,
            "access_touchpoints": 2,
        },
        "withheld": False,
        "visible_to_groups": None,
    }


def test_category_detail_shape(catalog, bob_client):
    body = bob_client.get("/api/categories/devops/").json()
    assert body["title"] == "DevOps Guide"
    assert body["last_scan"] is None
    assert body["counts"] == {
        "items": 5,
        "visible_apps": 4,
        "hidden_apps": 0,
        "supporting": 1,
        "data_stores": 4,
        "checklist_items": 3,
        "access_touchpoints": 2,
    }
    assert [s["slug"] for s in body["services"]] == [
        "admin-ui",
        "gitlab",
        "jenkins",
        "flower",
        "gitlab-runner",
    ]
    gitlab = body["services"][1]
    # Health is covered in tests/portal/test_health_display.py; before any scan it is unknown.
    assert gitlab.pop("health")["status"] == "unknown"
    assert gitlab == {
        "slug": "gitlab",
        "name": "GitLab",
        "summary": "소스코드/이슈/CI 통합 플랫폼 (Keycloak OIDC)",
        "role": "menu",
        "hidden": False,
        "location": "/gitlab",
        "access": "keycloak_oidc",
        "icon": "gitlab",
        "data_stores": ["gitlab-postgresql", "gitlab-redis"],
        "talks_to": [],
        "visible_to_groups": None,  # for staff only
        "slo": None,
    }
    jenkins_home = body["data_stores"][2]
    assert jenkins_home.pop("health")["status"] == "unknown"
    assert jenkins_home == {
        "slug": "jenkins-home",
        "name": "Jenkins Home (Volume)",
        "kind": "embedded",
        "description": "Jenkins job 설정, plugin state, build 기록 등 파일 기반 상태 저장소입니다.",
        "remark": "전통적인 RDBMS가 아니라 파일시스템 볼륨 기반 상태 저장",
        "used_by": ["jenkins"],
        "visible_to_groups": None,
        "slo": None,
    }
    assert body["checklist"][0] == (
        "GitLab 로그인 문제 시 `/gitlab/users/auth/openid_connect` POST 흐름과 callback 로그 확인"
    )
    assert [n["access_touchpoint"] for n in body["config_notes"]] == [True, True, False]
    assert len(body["focus_areas"]) == 4


def test_hidden_services_are_left_out_for_members_but_counted(catalog, bob_client):
    Service.objects.filter(slug="gitlab-runner").update(hidden=True)
    body = bob_client.get("/api/categories/devops/").json()
    assert "gitlab-runner" not in [s["slug"] for s in body["services"]]
    assert body["counts"]["supporting"] == 1
    assert body["counts"]["items"] == 4


def test_a_hidden_service_is_named_nowhere_in_a_members_json(catalog, bob_client, alice_client):
    # GitLab uses two data stores and Jenkins and the runner talk to it.
    Service.objects.filter(slug="gitlab").update(hidden=True)
    body = bob_client.get("/api/categories/devops/").json()
    assert "gitlab" not in [s["slug"] for s in body["services"]]
    assert {store["slug"]: store["used_by"] for store in body["data_stores"]} == {
        "gitlab-postgresql": [],
        "gitlab-redis": [],
        "jenkins-home": ["jenkins"],
        "celery-redis": ["admin-ui", "flower"],
    }
    assert all(service["talks_to"] == [] for service in body["services"])
    # GitLab Runner shows GitLab's logo: its icon names the logo, not the hidden service.
    text = bob_client.get("/api/categories/devops/").content.decode()
    assert '"gitlab"' not in text.replace('"icon":"gitlab"', "")

    staff_view = alice_client.get("/api/categories/devops/").json()
    assert staff_view["data_stores"][0]["used_by"] == ["gitlab"]
    jenkins = next(s for s in staff_view["services"] if s["slug"] == "jenkins")
    assert jenkins["talks_to"] == ["gitlab"]


def test_anonymous_api_call_gets_401_without_data(catalog, client):
    for url in ["/api/categories/", "/api/categories/devops/"]:
        response = client.get(url)
        assert response.status_code == 401
        assert response.json() == {"error": "authentication required"}


def test_unknown_category_is_404(catalog, bob_client):
    response = bob_client.get("/api/categories/nope/")
    assert response.status_code == 404
    assert response.json() == {"error": "no such category"}


def test_api_rejects_writes(catalog, bob_client):
    assert bob_client.post("/api/categories/devops/").status_code == 405


def test_the_cached_json_follows_each_scan_and_catalog_change(catalog, bob_client):
    devops = Category.objects.get(slug="devops")
    make_checks(devops)
    make_finished_scan()
    assert bob_client.get("/api/health/").json()["services"][0]["status"] == "up"
    before = bob_client.get("/api/categories/devops/").json()
    HealthCheck.objects.filter(service__slug="gitlab").update(status="down")
    make_finished_scan()
    statuses = {s["slug"]: s["status"] for s in bob_client.get("/api/health/").json()["services"]}
    assert statuses["gitlab"] == "down"
    after = bob_client.get("/api/categories/devops/").json()
    assert after["last_scan"]["id"] != before["last_scan"]["id"]
    Service.objects.filter(slug="gitlab").update(summary="Moved")
    Service.objects.get(slug="jenkins").save()  # a catalog write through the ORM's signals
    assert {
        s["slug"]: s["summary"]
        for s in bob_client.get("/api/categories/devops/").json()["services"]
    }["gitlab"] == "Moved"
