"""The overview costs the same handful of queries for five services or two hundred."""

import pytest

from tests.factories import make_category

# 1. the signed-in user (the session itself is read from the cache),
# 2. every category, for the switcher; the current one is picked from them,
# 3. the category's services,
# 4. its data stores,
# 5. the map's edges: store users UNION service calls,
# 6. its focus areas UNION checklist UNION configuration notes.
OVERVIEW_QUERIES = 6


def test_seed_overview_query_count(catalog, bob_client, django_assert_num_queries):
    with django_assert_num_queries(OVERVIEW_QUERIES):
        response = bob_client.get("/categories/devops/")
    assert response.status_code == 200


def test_large_overview_has_the_same_query_count(db, bob_client, django_assert_num_queries):
    make_category("big", services=200, stores=100, items=20, hidden_every=7)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        response = bob_client.get("/categories/big/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Service 199" in page and "Store 99" in page


def test_large_overview_json_has_the_same_query_count(db, bob_client, django_assert_num_queries):
    make_category("big", services=200, stores=100, items=20)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        body = bob_client.get("/api/categories/big/").json()
    assert len(body["services"]) == 200
    assert len(body["data_stores"]) == 100


@pytest.mark.parametrize("size", [0, 3])
def test_query_count_holds_for_empty_and_tiny_categories(
    db, bob_client, django_assert_num_queries, size
):
    make_category("small", services=size, stores=size, items=size)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        assert bob_client.get("/categories/small/").status_code == 200
