"""The API describes itself: an OpenAPI 3 schema at /api/openapi.json, generated from the
code, and a docs page at /api/docs that works under the portal's strict CSP."""

import pytest
from django.test import Client

from tests.aixops.test_content_security_policy_browser import Watched, portal  # noqa: F401
from tests.browser import chromium, signed_in_context

OPERATIONS = {
    ("get", "/api/categories/"),
    ("get", "/api/categories/{slug}/"),
    ("get", "/api/health/"),
    ("get", "/api/incidents/"),
    ("get", "/api/items/{category}/{item}/history/"),
    ("get", "/api/status/"),
    ("get", "/api/pins/"),
    ("get", "/api/search/"),
    ("get", "/api/members/pending/"),
    ("post", "/api/members/{username}/approve/"),
    ("post", "/api/members/{username}/reject/"),
    ("post", "/api/members/{username}/suspend/"),
    ("post", "/api/members/{username}/reinstate/"),
}


@pytest.fixture
def schema(db):
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_describes_every_endpoint_with_a_bearer_token(schema):
    assert schema["openapi"].startswith("3.")
    described = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method != "head"
    }
    assert described == OPERATIONS
    assert schema["components"]["securitySchemes"] == {
        "ApiAccess": {"type": "http", "scheme": "bearer"}
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert operation["security"] == [{"ApiAccess": []}], path
            assert {"200", "401", "403"} <= set(operation["responses"]), path


def test_the_existing_json_is_described_field_for_field(schema):
    components = schema["components"]["schemas"]
    summary = components["CategorySummary"]["properties"]
    # Added with group limits: `withheld` (some items not shown to this caller) and, for
    # staff, `visible_to_groups`.
    limits = {"withheld", "visible_to_groups"}
    assert set(summary) == {"slug", "name", "title", "summary", "url", "counts", *limits}
    overview = components["CategoryOverview"]["properties"]
    assert set(overview) == {
        "slug",
        "name",
        "title",
        "summary",
        "description",
        "last_scan",
        "health",
        "counts",
        *limits,
        "services",
        "data_stores",
        "focus_areas",
        "checklist",
        "config_notes",
    }
    assert set(components["HealthReport"]["properties"]) == {
        "last_scan",
        "categories",
        "services",
        "data_stores",
    }


def test_the_docs_page_uses_the_portals_own_files(db):
    response = Client().get("/api/docs")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in body
    assert "cdn" not in body.lower()
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_renders_under_the_policy(live_server, portal):  # noqa: F811
    with chromium() as browser:
        context = signed_in_context(browser, live_server, portal["bob"])
        watched = Watched(context, live_server.url)
        page = watched.open("/api/docs")
        page.locator(".opblock").first.wait_for()
        for method in ("get", "post"):
            shown = page.locator(f".opblock-{method}").count()
            assert shown == sum(1 for m, _ in OPERATIONS if m == method)
        assert watched.refusals() == []
        context.close()


def test_an_unknown_api_address_is_a_json_404(db):
    for url in ["/api/nothing/", "/api/categories/not a slug/"]:
        response = Client().get(url)
        assert response.status_code == 404
        assert response.json() == {"error": "no such endpoint"}
