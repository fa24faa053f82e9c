"""A signed-in session is re-checked with Keycloak every OIDC_REFRESH_INTERVAL seconds."""

import time

import pytest
from django.test import Client

from accounts.models import User
from tests.accounts.oidc.flow import sign_in


@pytest.fixture
def approved_session(sso, catalog, alice, person):
    name = person()
    client = Client()
    sign_in(client, name)
    User.objects.get(username=name).approve(by=alice)
    return name, client


def expire(client):
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()


def test_a_session_within_the_interval_is_not_rechecked(
    approved_session, django_assert_num_queries
):
    _, client = approved_session
    # The home page's own seven (the user, the page state, the catalog's group limits, the
    # categories, the checks, the open incidents, the member's pins): no refresh, no
    # session write.
    with django_assert_num_queries(7):
        assert client.get("/").status_code == 200


def test_an_enabled_user_is_refreshed_silently(approved_session):
    _, client = approved_session
    expire(client)
    assert client.get("/").status_code == 200
    assert client.session["oidc_id_token_expiration"] > time.time()
    assert "_auth_user_id" in client.session


def test_a_user_disabled_in_keycloak_loses_the_page(approved_session, sso):
    name, client = approved_session
    sso.disable_user(name)
    assert client.get("/").status_code == 200  # within the interval
    expire(client)
    response = client.get("/categories/devops/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/categories/devops/"
    assert "_auth_user_id" not in client.session


def test_a_user_disabled_in_keycloak_gets_a_json_401_from_the_api(approved_session, sso):
    name, client = approved_session
    sso.disable_user(name)
    expire(client)
    response = client.get("/api/categories/")
    assert response.status_code == 401
    assert response.json()["error"] == "session expired, sign in again"
