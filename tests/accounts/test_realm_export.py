"""The shipped Keycloak realm export configures the portal client the way the portal needs."""

import json
from pathlib import Path

import pytest

REALM = Path(__file__).resolve().parents[2] / "fixtures" / "keycloak" / "aixops-realm.json"


@pytest.fixture(scope="module")
def realm():
    return json.loads(REALM.read_text())


@pytest.fixture(scope="module")
def client(realm):
    return next(c for c in realm["clients"] if c["clientId"] == "aixops-portal")


def test_portal_client_is_confidential_standard_flow_with_pkce(client):
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["implicitFlowEnabled"] is False and client["directAccessGrantsEnabled"] is False
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["redirectUris"] == ["https://portal.example.com/oidc/callback/"]
    assert client["attributes"]["post.logout.redirect.uris"].endswith("/accounts/signed-out/")


def test_the_hub_signs_members_in_with_a_confidential_client_of_its_own(realm):
    hub = next(c for c in realm["clients"] if c["clientId"] == "jupyterhub")
    assert hub["publicClient"] is False and hub["standardFlowEnabled"] is True
    assert hub["implicitFlowEnabled"] is False and hub["directAccessGrantsEnabled"] is False
    assert hub["attributes"]["pkce.code.challenge.method"] == "S256"
    assert hub["redirectUris"] == ["https://hub.example.com/hub/oauth_callback"]
    assert "profile" in hub["defaultClientScopes"]  # preferred_username names the hub user


def test_backchannel_logout_on_with_session_and_frontchannel_off(client):
    assert client["attributes"]["backchannel.logout.url"].endswith("/oidc/backchannel-logout/")
    assert client["attributes"]["backchannel.logout.session.required"] == "true"
    assert client["frontchannelLogout"] is False


def test_roles_and_groups_are_defined(realm):
    assert {r["name"] for r in realm["roles"]["realm"]} >= {"aixops-admin", "aixops-member"}
    paths = {g["path"] for top in realm["groups"] for g in [top, *top["subGroups"]]}
    assert {"/platform/admins", "/platform/devops"} <= paths


def test_mappers_put_roles_and_groups_into_id_token_and_userinfo(client):
    mappers = {m["config"]["claim.name"]: m["config"] for m in client["protocolMappers"]}
    for claim in ("realm_access.roles", "resource_access.${client_id}.roles", "groups"):
        assert mappers[claim]["id.token.claim"] == "true"
        assert mappers[claim]["userinfo.token.claim"] == "true"
    assert mappers["groups"]["full.path"] == "true"


def test_internationalisation_is_on_so_tokens_carry_the_users_locale(realm):
    # Keycloak's profile scope maps the user's locale into a `locale` claim only with
    # internationalisation on; the portal writes its e-mail to them in that language.
    assert realm["internationalizationEnabled"] is True
    assert set(realm["supportedLocales"]) == {"ko", "en"} and realm["defaultLocale"] == "ko"
