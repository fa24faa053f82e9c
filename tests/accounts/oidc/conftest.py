"""The dev OpenID provider (devtools/oidc-provider) on a free loopback port, for the whole
session, and settings pointing the portal at it."""

import itertools
from urllib.parse import urlsplit

import pytest

from accounts.oidc import provider
from devtools.oidc_provider import running_provider

CLIENT_ID = "aixops-portal"
CLIENT_SECRET = "aixops-portal-test-secret"
_serial = itertools.count(1)


@pytest.fixture(scope="session")
def op(live_server):
    """The provider. Its client knows both ways the tests reach Django: the test client
    (http://testserver) and the live server (back-channel logout, the browser)."""
    bases = ["http://testserver", live_server.url]
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{base}/oidc/callback/" for base in bases],
        "post_logout_redirect_uris": [f"{base}/accounts/signed-out/" for base in bases],
        "backchannel_logout_uri": f"{live_server.url}/oidc/backchannel-logout/",
        "backchannel_logout_session_required": True,
    }
    with running_provider(realm="aixops", clients=[client]) as provider:
        yield provider


@pytest.fixture
def sso(op, settings):
    """The portal configured for the provider, as OIDC_ISSUER and friends would do."""
    settings.OIDC_ISSUER = op.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.MEMBER_AUTO_APPROVE_ROLES = ["aixops-admin"]
    # What settings.py adds for OIDC_ISSUER: sign-out forms may be redirected to it.
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    provider = urlsplit(op.issuer)
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            **directives,
            "form-action": [*directives["form-action"], f"{provider.scheme}://{provider.netloc}"],
        }
    }
    return op


@pytest.fixture
def person(op):
    """A fresh provider user for tests that change or disable people in Keycloak."""

    def make(**fields):
        username = fields.pop("username", f"person{next(_serial)}")
        op.upsert_user(
            {
                "username": username,
                "password": username,
                "email": f"{username}@aixops.test",
                "emailVerified": True,
                "firstName": username.title(),
                "lastName": "Tester",
                "realmRoles": ["aixops-member"],
                "groups": ["/platform/devops"],
                **fields,
            }
        )
        return username

    return make


@pytest.fixture(autouse=True)
def forget_provider_metadata():
    """Each test starts with the discovery and key caches as a fresh process has them."""
    provider.forget()
    yield
    provider.forget()
