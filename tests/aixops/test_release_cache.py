"""Cached values are kept under the release that made them (RELEASE): processes of two
releases, as during a rolling deploy, never read each other's, while sessions, whose
shape is Django's, are shared, so that a sign-out reaches them all."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string

from aixops.settings import cache_settings

# A cache of the test's own, as CACHE_URL would name a shared one.
SHARED = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "releases"}
PAGE = "/categories/devops/"


@pytest.fixture
def release(settings):
    """Run what follows as a process of the given release would, on the same cache."""

    def run_as(name: str) -> None:
        settings.CACHES = cache_settings(SHARED, name)

    return run_as


def tables_read(client, url: str) -> set[str]:
    """The tables a view of `url` reads from the database."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return {
        table
        for table in ("portal_category", "portal_service", "django_session")
        if any(f'"{table}"' in query["sql"] for query in queries.captured_queries)
    }


def test_two_releases_do_not_read_each_others_cached_pages(catalog, bob_client, release):
    release("1.0")
    assert "portal_category" in tables_read(bob_client, PAGE)  # drawn and cached
    assert tables_read(bob_client, PAGE) == set()  # from 1.0's cache

    release("1.1")
    # Drawn again from the catalog, not read from 1.0's values; the session is shared.
    assert tables_read(bob_client, PAGE) == {"portal_category", "portal_service"}
    assert tables_read(bob_client, PAGE) == set()

    release("1.0")
    assert tables_read(bob_client, PAGE) == set()  # 1.0's values are still its own


def test_a_sign_out_reaches_processes_of_every_release(catalog, bob_client, release, settings):
    release("1.0")
    assert bob_client.get("/").status_code == 200  # the session cached
    release("1.1")
    # What a sign-out or Keycloak's back-channel logout does, on a process of 1.1.
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    store(bob_client.session.session_key).delete()
    release("1.0")
    response = bob_client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/")


def test_a_cache_urls_own_key_prefix_stays_first():
    caches = cache_settings({**SHARED, "KEY_PREFIX": "portal-a"}, "2026.12.06-4e5088d")
    assert caches["default"]["KEY_PREFIX"] == "portal-a:release-2026.12.06-4e5088d"
    assert caches["sessions"]["KEY_PREFIX"] == "portal-a"
    assert SHARED.get("KEY_PREFIX") is None  # the settings given are not changed
