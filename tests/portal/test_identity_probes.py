"""The `oidc` and `sso-redirect` probes against the real dev OpenID provider
(devtools/oidc-provider, shaped like a Keycloak realm) and small apps on loopback."""

import asyncio
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from jwt.algorithms import RSAAlgorithm

from devtools.oidc_provider import running_provider
from portal.probes import ProbeSpec, probe_one
from tests.servers import HttpServer, JsonServer

GITLAB_CALLBACK = "http://127.0.0.1:9/gitlab/users/auth/openid_connect/callback"


@pytest.fixture(scope="module")
def op():
    """The dev provider with GitLab's client, as the realm has it."""
    client = {"client_id": "gitlab", "client_secret": "s", "redirect_uris": [GITLAB_CALLBACK]}
    with running_provider(clients=[client], test_hooks=False) as provider:
        yield provider


def probe(kind: str, target: str, **options):
    spec = ProbeSpec(1, kind, target, 5.0, **options)
    return asyncio.run(probe_one(spec, deny=settings.HEALTH_CHECK_DENY_NETWORKS))


def test_a_healthy_provider_is_up_with_what_was_checked(op):
    outcome = probe("oidc", op.issuer)
    assert (outcome.outcome, outcome.detail) == (
        "up",
        "issuer matches, 1 signing key (RS256), clock within 30 s",
    )


def test_the_discovery_url_itself_is_a_target_too(op):
    assert probe("oidc", op.discovery_url).outcome == "up"


def test_a_provider_naming_another_issuer_is_down(op):
    expected = "https://platform.example.com/keycloak/realms/aixops"
    outcome = probe("oidc", op.issuer, expected=expected)
    assert (outcome.outcome, outcome.detail) == (
        "down",
        f"issuer is {op.issuer!r}, expected {expected!r}",
    )


def test_a_clients_authorization_request_is_accepted(op):
    outcome = probe("oidc", op.issuer, client_id="gitlab", redirect_uri=GITLAB_CALLBACK)
    assert outcome.outcome == "up"
    assert outcome.detail.endswith(", authorization request of gitlab accepted")


def test_a_redirect_uri_the_provider_rejects_is_down(op):
    outcome = probe(
        "oidc", op.issuer, client_id="gitlab", redirect_uri="http://127.0.0.1:9/elsewhere"
    )
    assert (outcome.outcome, outcome.detail) == (
        "down",
        "authorization request of gitlab refused: redirect URI not accepted (HTTP 400)",
    )


def test_an_unknown_client_is_down(op):
    outcome = probe("oidc", op.issuer, client_id="jenkins", redirect_uri=GITLAB_CALLBACK)
    assert (outcome.outcome, outcome.detail) == (
        "down",
        "authorization request of jenkins refused: HTTP 400",
    )


def signing_key() -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**RSAAlgorithm.to_jwk(key, as_dict=True), "use": "sig", "kid": "k1"}


def provider_documents(server: JsonServer, keys: list[dict], jwks_uri: str | None = None):
    server.documents["/realm/.well-known/openid-configuration"] = {
        "issuer": server.url("/realm"),
        "jwks_uri": jwks_uri or server.url("/realm/certs"),
        "authorization_endpoint": server.url("/realm/auth"),
    }
    server.documents["/realm/certs"] = {"keys": keys}


def test_a_jwks_without_a_usable_signing_key_is_down():
    encryption_only = {**signing_key(), "use": "enc"}
    broken = {"kty": "RSA", "kid": "k2"}  # no modulus, no exponent
    with JsonServer() as server:
        provider_documents(server, [encryption_only, broken])
        outcome = probe("oidc", server.url("/realm"))
    assert (outcome.outcome, outcome.detail) == ("down", "the JWKS has no usable signing key")


def test_a_provider_clock_off_by_more_than_the_allowed_skew_is_down(monkeypatch):
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    monkeypatch.setattr(
        BaseHTTPRequestHandler,
        "date_time_string",
        lambda self, timestamp=None: ahead.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    )
    with JsonServer() as server:
        provider_documents(server, [signing_key()])
        outcome = probe("oidc", server.url("/realm"), max_clock_skew=30)
    assert outcome.outcome == "down"
    assert outcome.detail in {
        f"the provider's clock is {seconds} s ahead of ours (allowed 30 s)"
        for seconds in (299, 300)
    }


def test_urls_the_provider_names_are_vetted_before_connecting(resolver, connections):
    with JsonServer() as server:
        provider_documents(server, [signing_key()], jwks_uri="http://metadata.probe.test/certs")
        outcome = probe("oidc", server.url("/realm"))
    assert (outcome.outcome, outcome.detail) == (
        "down",
        "refused: metadata.probe.test (169.254.169.254) is in HEALTH_CHECK_DENY_NETWORKS "
        "(169.254.0.0/16)",
    )
    assert connections == [("127.0.0.1", server.port)]


# sso-redirect -----------------------------------------------------------------------


@pytest.fixture
def tool():
    """A tool on loopback: /redirect?to=URL stands for a protected page (302 to sign
    in), /ok for an unprotected one (200 with the tool's own page)."""
    with HttpServer() as server:
        yield server


def sign_in_url(op) -> str:
    query = urlencode({"client_id": "gitlab", "redirect_uri": GITLAB_CALLBACK})
    return f"{op.endpoint('auth')}?{query}&response_type=code&scope=openid&state=s"


def test_a_tool_that_sends_anonymous_visitors_to_the_realm_is_up(op, tool):
    protected = tool.url("/redirect?" + urlencode({"to": sign_in_url(op)}))
    outcome = probe("sso-redirect", protected, expected=op.issuer)
    assert (outcome.outcome, outcome.detail) == (
        "up",
        f"sends to sign in: HTTP 302 to {op.endpoint('auth')}",
    )


def test_a_relative_sign_in_path_is_read_on_the_tools_host(tool):
    behind_proxy = tool.url("/redirect?to=/oauth2/sign_in%3Frd%3D/jenkins/")
    outcome = probe("sso-redirect", behind_proxy, expected="/oauth2/sign_in")
    assert outcome.outcome == "up"
    assert outcome.detail == f"sends to sign in: HTTP 302 to {tool.url('/oauth2/sign_in')}"


@pytest.mark.parametrize("code", [401, 403])
def test_a_proxy_that_answers_with_its_sign_in_page_is_up(tool, code):
    # oauth2-proxy shows its sign-in page with 403 (401 for API clients).
    outcome = probe("sso-redirect", tool.url(f"/status?code={code}"), expected="/oauth2/sign_in")
    assert (outcome.outcome, outcome.detail) == ("up", f"asks to sign in: HTTP {code}")


def test_a_proxy_sign_in_page_served_in_place_of_the_tool_is_up():
    # nginx's `error_page 401 = /oauth2/sign_in` answers 200 with oauth2-proxy's page,
    # whose form posts to /oauth2/start.
    with JsonServer({"/flower/": {"form": "/oauth2/start?rd=%2Fflower%2F"}}) as proxy:
        outcome = probe("sso-redirect", proxy.url("/flower/"), expected="/oauth2/")
    assert (outcome.outcome, outcome.detail) == ("up", "shows the sign-in page: HTTP 200")


def test_a_tool_answering_its_own_page_to_anonymous_visitors_is_not_protected(op, tool):
    outcome = probe("sso-redirect", tool.url("/ok"), expected=op.issuer)
    assert (outcome.outcome, outcome.detail) == (
        "down",
        "not protected: HTTP 200 without signing in",
    )


def test_a_redirect_elsewhere_is_down_and_names_both_places(op, tool):
    outcome = probe(
        "sso-redirect", tool.url("/redirect?to=https://elsewhere.example/login"), expected=op.issuer
    )
    assert (outcome.outcome, outcome.detail) == (
        "down",
        f"sends to https://elsewhere.example/login, not to the sign-in at {op.issuer}",
    )


def test_a_redirect_is_judged_not_followed(resolver, connections, tool):
    outcome = probe(
        "sso-redirect",
        tool.url("/redirect?to=http://metadata.probe.test/realms/x"),
        expected="http://metadata.probe.test/realms/",
    )
    assert outcome.outcome == "up"
    assert "metadata.probe.test" not in resolver.asked
    assert connections == [("127.0.0.1", tool.port)]
