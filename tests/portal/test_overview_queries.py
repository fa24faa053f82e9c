"""The overview costs the same handful of queries for five services or two hundred,
health (statuses, uptimes, sparklines on every card) included."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from portal.models import CatalogRevision, Category, DataStore, HealthCheck, Service
from portal.page_copies import page_copies
from portal.pages import page_state
from tests.factories import make_category, make_checks, make_finished_scan

# Rendering a category the first time (or after a catalog change or a new scan):
# 1. the signed-in user (the session itself is read from the cache),
# 2. the catalog revision, with the latest finished scan (id, finish time) and the last
#    incident change as subqueries: together, the cached page's key (the page state, then
#    cached until its next writer: portal.state_cache),
# 3. the catalog's limited categories, services and stores, as one UNION (then cached by
#    revision): which groups matter to the page's key,
# 4. every category, for the switcher; the current one is picked from them,
# 5. the category's services,
# 6. its data stores,
# 7. the map's edges: store users UNION service calls,
# 8. its focus areas UNION checklist UNION configuration notes,
# 9. the health checks of its services and stores, with an EXISTS for maintenance;
#    statuses, uptimes and sparkline points are on the check rows (scans keep them),
# 10. the checks that verify its checklist steps, with the same EXISTS,
# 11. the category's open incidents, with their latest update (the banner),
# 12. the services the reader pinned, outside the cached part (their pin buttons; then
#     cached per member until they pin, unpin or move one).
OVERVIEW_QUERIES_COLD = 12
# Served from the cache: query 1 only (the page state and the reader's pins are cached too).
OVERVIEW_QUERIES_WARM = 1
# After a scan, with the catalog part cached: queries 1, 2 and 11 (the reader's pins are
# cached), and only what the scan changed (portal.selectors.category_health_overview):
# 3. the checks that verify its checklist steps,
# 4. the health checks of its services and stores, only what their cards show;
# read about the catalog (portal.selectors.health_catalog), the first time after a catalog
# change (then cached by revision):
# 5. the category,
# 6. its services and 7. its data stores, a few columns each,
# 8. which of its services use which of its stores,
# 9. its checklist.
OVERVIEW_QUERIES_AFTER_A_SCAN = 5
HEALTH_CATALOG_QUERIES = 5
# When some item is limited to groups, a member's page costs one more, cold or warm: which
# of the groups limits name they are in (their visibility class, part of the key).
READER_GROUPS = 1


def main_content(html: str) -> str:
    """The page without its top bar, and its forms' CSRF tokens (the top bar's and the pin
    buttons'), which differ on every response."""
    return CSRF_TOKEN.sub("", html[html.index('<main class="page">') :])


CSRF_TOKEN = re.compile(r'(?<=name="csrfmiddlewaretoken" value=")[^"]+')


# The JSON API (no banner) the first time: the user, the page state, the limits, and
# queries 4 to 10. Then it is served from the cache like the page: the user alone.
API_QUERIES = 10
API_QUERIES_WARM = 1


@pytest.fixture
def scanned(db):
    """Every item of every category carries a check, and a scan has just finished."""

    def scan():
        for category in Category.objects.all():
            make_checks(category)
        make_finished_scan()

    return scan


def test_seed_overview_query_count(catalog, scanned, bob_client, django_assert_num_queries):
    scanned()
    with django_assert_num_queries(OVERVIEW_QUERIES_COLD):
        assert bob_client.get("/categories/devops/").status_code == 200
    with django_assert_num_queries(OVERVIEW_QUERIES_WARM):
        assert bob_client.get("/categories/devops/").status_code == 200


def test_large_overview_has_the_same_query_count(scanned, bob_client, django_assert_num_queries):
    make_category("big", services=200, stores=100, items=20, hidden_every=7)
    scanned()
    with django_assert_num_queries(OVERVIEW_QUERIES_COLD):
        response = bob_client.get("/categories/big/")
    assert response.status_code == 200
    page = main_content(response.text)
    assert "Service 199" in page and "Store 99" in page
    # Every shown service card and every store card has its sparkline.
    shown_services = Service.objects.filter(category__slug="big", hidden=False).count()
    assert page.count('class="sparkline"') == shown_services + 100
    with django_assert_num_queries(OVERVIEW_QUERIES_WARM):
        assert main_content(bob_client.get("/categories/big/").text) == page


def test_large_overview_json_has_the_same_query_count(
    scanned, bob_client, django_assert_num_queries
):
    make_category("big", services=200, stores=100, items=20)
    scanned()
    with django_assert_num_queries(API_QUERIES):
        body = bob_client.get("/api/categories/big/").json()
    with django_assert_num_queries(API_QUERIES_WARM):
        assert bob_client.get("/api/categories/big/").json() == body
    assert len(body["services"]) == 200
    assert len(body["data_stores"]) == 100
    assert {s["health"]["status"] for s in body["services"]} == {"up"}


def test_after_a_scan_a_large_overview_reads_only_its_health(
    scanned, bob_client, django_assert_num_queries
):
    make_category("big", services=200, stores=100, items=20, hidden_every=7)
    scanned()
    before = main_content(bob_client.get("/categories/big/").text)
    HealthCheck.objects.filter(service__name="Service 3").update(status="down")
    make_finished_scan()
    with django_assert_num_queries(
        OVERVIEW_QUERIES_AFTER_A_SCAN + HEALTH_CATALOG_QUERIES
    ) as queries:
        page = main_content(bob_client.get("/categories/big/").text)
    assert "health-down" not in before and "health-down" in page
    # Nothing of the catalog is read again: no service's summary, no store's description.
    items_read = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith(('SELECT "portal_service".', 'SELECT "portal_datastore".'))
    ]
    assert len(items_read) == 2
    assert not any('"summary"' in sql or '"description"' in sql for sql in items_read)
    # The page a reader rendering it all afresh would get.
    cache.clear()
    page_copies.clear()
    assert main_content(bob_client.get("/categories/big/").text) == page


def test_later_scans_read_only_the_checks_until_the_catalog_changes(
    scanned, bob_client, django_assert_num_queries
):
    make_category("big", services=200, stores=100, items=20, hidden_every=7)
    scanned()
    bob_client.get("/categories/big/")
    make_finished_scan()
    bob_client.get("/categories/big/")  # reads what of the catalog its health shows
    HealthCheck.objects.filter(data_store__name="Store 3").update(status="down")
    make_finished_scan()
    with django_assert_num_queries(OVERVIEW_QUERIES_AFTER_A_SCAN) as queries:
        page = main_content(bob_client.get("/categories/big/").text)
    assert not any(
        query["sql"].startswith(('SELECT "portal_service".', 'SELECT "portal_datastore".'))
        for query in queries.captured_queries
    )
    # Store 3 is used by services 2 and 3 (tests.factories.make_category).
    assert page.count("health-down") == 1 and page.count("health-dependency") == 2
    # A catalog change reads it again: store 3 is no longer used by service 3.
    store = DataStore.objects.get(name="Store 3")
    store.used_by.remove(Service.objects.get(name="Service 3"))
    make_finished_scan()
    with django_assert_num_queries(OVERVIEW_QUERIES_COLD - 1):  # the pins are cached
        page = main_content(bob_client.get("/categories/big/").text)
    assert page.count("health-dependency") == 1
    make_finished_scan()
    with django_assert_num_queries(OVERVIEW_QUERIES_AFTER_A_SCAN + HEALTH_CATALOG_QUERIES):
        after_a_scan = main_content(bob_client.get("/categories/big/").text)
    assert after_a_scan.count("health-dependency") == 1
    # The page a reader rendering it all afresh would get.
    cache.clear()
    page_copies.clear()
    assert main_content(bob_client.get("/categories/big/").text) == after_a_scan


@pytest.mark.parametrize("size", [0, 3])
def test_query_count_holds_for_empty_and_tiny_categories(
    db, bob_client, django_assert_num_queries, size
):
    make_category("small", services=size, stores=size, items=size)
    with django_assert_num_queries(OVERVIEW_QUERIES_COLD):
        assert bob_client.get("/categories/small/").status_code == 200


def test_a_new_scan_shows_on_the_next_view(catalog, scanned, bob_client):
    scanned()
    assert "System Optimal" in bob_client.get("/categories/devops/").text
    Service.objects.get(slug="jenkins").health_checks.update(status="down")
    # The page is cached by scan: until the next scan it shows what the last one said.
    assert "System Optimal" in bob_client.get("/categories/devops/").text
    make_finished_scan()
    assert "Major Outage" in bob_client.get("/categories/devops/").text


def test_a_catalog_edit_shows_on_the_next_view(catalog, bob_client):
    assert "파이프라인 기반 빌드/배포 자동화 서버" in bob_client.get("/categories/devops/").text
    jenkins = Service.objects.get(slug="jenkins")
    jenkins.summary = "Declarative pipelines"
    jenkins.save()
    page = bob_client.get("/categories/devops/").text
    assert "Declarative pipelines" in page
    assert "파이프라인 기반 빌드/배포 자동화 서버" not in page


def test_relation_edits_and_deletes_move_the_revision(catalog):
    before = page_state()[0].number
    Service.objects.get(slug="gitlab").talks_to.add(Service.objects.get(slug="flower"))
    Service.objects.get(slug="gitlab-runner").delete()
    # add: one bump; delete: the row and its relations, each at least one bump.
    assert page_state()[0].number >= before + 2


def test_staff_and_members_get_their_own_cached_pages(catalog, bob_client, alice_client):
    Service.objects.filter(slug="flower").update(hidden=True)
    CatalogRevision.bump()
    assert "Celery 작업 모니터링 UI" in alice_client.get("/categories/devops/").text
    assert "Celery 작업 모니터링 UI" not in bob_client.get("/categories/devops/").text


def test_pages_survive_a_cache_flush(catalog, bob_client):
    first = bob_client.get("/categories/devops/").text
    cache.clear()
    # The session lives on in the database (cached_db), the page is simply rendered again.
    response = bob_client.get("/categories/devops/")
    assert response.status_code == 200
    assert main_content(response.text) == main_content(first)


def test_the_overview_works_before_any_revision_was_recorded(catalog, scanned, bob_client):
    # Rows written without signals (bulk loads, a restored dump) leave no revision row.
    scanned()
    CatalogRevision.objects.all().delete()
    page = bob_client.get("/categories/devops/").text
    assert "DevOps Guide" in page and "System Optimal" in page


@pytest.fixture
def limited_big(django_user_model):
    """A large category, a fifth of whose services and stores are limited to /platform/devops;
    dana is a member of that group."""
    make_category("big", services=200, stores=100, items=20, hidden_every=7)
    Service.objects.filter(position__in=range(0, 200, 5)).update(
        visible_to_groups=["/platform/devops"]
    )
    DataStore.objects.filter(position__in=range(0, 100, 5)).update(
        visible_to_groups=["/platform/devops"]
    )
    CatalogRevision.bump()
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    dana.groups.add(Group.objects.create(name="/platform/devops"))
    return dana


@pytest.mark.parametrize("in_group", [True, False])
def test_a_limited_overview_has_a_fixed_query_count(
    limited_big, bob, scanned, in_group, django_assert_num_queries
):
    scanned()
    client = Client()
    client.force_login(limited_big if in_group else bob)
    with django_assert_num_queries(OVERVIEW_QUERIES_COLD + READER_GROUPS):
        page = main_content(client.get("/categories/big/").text)
    assert ("Service 195" in page) is in_group
    assert "Service 199" in page
    with django_assert_num_queries(OVERVIEW_QUERIES_WARM + READER_GROUPS):
        assert main_content(client.get("/categories/big/").text) == page
    # The page has cached the page state and the catalog's limits already.
    with django_assert_num_queries(API_QUERIES - 2 + READER_GROUPS):
        body = client.get("/api/categories/big/").json()
    with django_assert_num_queries(API_QUERIES_WARM + READER_GROUPS):
        assert client.get("/api/categories/big/").json() == body
    # Hidden (every 7th) for members; every 5th withheld outside the group.
    shown = [n for n in range(200) if n % 7 and (in_group or n % 5)]
    assert [s["name"] for s in body["services"]] == [f"Service {n}" for n in shown]
    assert body["withheld"] is not in_group
    assert len(body["data_stores"]) == (100 if in_group else 80)


@pytest.mark.parametrize("in_group", [True, False])
def test_a_limited_home_page_has_a_fixed_query_count(
    limited_big, bob, scanned, in_group, django_assert_num_queries
):
    """The user, the page state, the limits, the member's limiting groups, the categories
    with their counts, the checks, the open incidents, the member's pins; warm: the user
    and the groups (the pins are cached)."""
    scanned()
    client = Client()
    client.force_login(limited_big if in_group else bob)
    with django_assert_num_queries(8):
        page = main_content(client.get("/").text)
    with django_assert_num_queries(2):
        assert main_content(client.get("/").text) == page
    assert ("withheld-note" in page) is not in_group
    # Of 200 services (n % 5 == 4 supporting, n % 7 == 0 hidden), the limited n % 5 == 0
    # are menu services; every 5th of 100 stores is limited.
    seen = [n for n in range(200) if in_group or n % 5]
    (big,) = client.get("/api/categories/").json()["categories"]
    assert big["counts"] == {
        "visible_apps": sum(1 for n in seen if n % 5 != 4 and n % 7),
        "hidden_apps": sum(1 for n in seen if n % 5 != 4 and not n % 7),
        "supporting": 40,
        "data_stores": 100 if in_group else 80,
        "checklist_items": 20,
        "access_touchpoints": big["counts"]["access_touchpoints"],  # not limited: as stored
    }
    assert f"<dd>{big['counts']['visible_apps']}</dd>" in page
