"""Signing in without Keycloak: the local form when SSO is off, break-glass for superusers."""

import pytest
from django.test import Client

SSO = "https://sso.example.test/realms/aixops"


def test_without_sso_the_login_page_is_the_local_form(db):
    page = Client().get("/accounts/login/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_with_sso_sign_in_goes_to_keycloak(db, settings, url):
    settings.OIDC_ISSUER = SSO
    response = Client().get(url, {"next": "/categories/devops/"})
    assert response.status_code == 302
    assert response["Location"] == "/oidc/authenticate/?next=%2Fcategories%2Fdevops%2F"


def test_break_glass_page_is_marked_as_such(db):
    page = Client().get("/accounts/break-glass/").content.decode()
    assert "Break-glass" in page or "비상" in page


def test_break_glass_lets_a_superuser_in(db, settings, alice, catalog):
    settings.OIDC_ISSUER = SSO
    client = Client()
    response = client.post(
        "/accounts/break-glass/", {"username": "alice", "password": "alice-password"}
    )
    assert response.status_code == 302
    assert client.get("/categories/devops/").status_code == 200


def test_break_glass_refuses_everyone_else(db, settings, bob):
    settings.OIDC_ISSUER = SSO
    client = Client()
    response = client.post(
        "/accounts/break-glass/", {"username": "bob", "password": "bob-password"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_break_glass_can_be_switched_off(db, settings, alice):
    settings.LOCAL_LOGIN_ENABLED = False
    client = Client()
    assert client.get("/accounts/break-glass/").status_code == 404
    response = client.post(
        "/accounts/break-glass/", {"username": "alice", "password": "alice-password"}
    )
    assert response.status_code == 404
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", ["/oidc/authenticate/", "/oidc/callback/?code=c&state=s"])
def test_sso_pages_explain_when_sso_is_not_configured(db, url):
    response = Client().get(url)
    assert response.status_code == 404
    assert 'data-reason="not_configured"' in response.content.decode()
