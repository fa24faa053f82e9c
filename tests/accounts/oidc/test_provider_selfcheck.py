"""Self-check of the dev OIDC provider over real HTTP (no mocks)."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx
import jwt
import pytest

from devtools.oidc_provider import running_provider

CLIENT_ID = "aixops-portal"
CLIENT_SECRET = "aixops-portal-secret"
REDIRECT_URI = "http://127.0.0.1:8000/oidc/callback/"
POST_LOGOUT_URI = "http://127.0.0.1:8000/"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class BackchannelReceiver:
    """A tiny RP back-channel logout endpoint on 127.0.0.1."""

    def __init__(self):
        self.tokens: list[str] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                outer.tokens.extend(parse_qs(body).get("logout_token", []))
                outer.event.set()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oidc/backchannel-logout/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for_token(self, timeout=5.0) -> str:
        assert self.event.wait(timeout), "no back-channel logout received"
        return self.tokens[-1]

    def reset(self):
        self.tokens.clear()
        self.event.clear()


@pytest.fixture(scope="module")
def receiver():
    r = BackchannelReceiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def op(receiver):
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [POST_LOGOUT_URI],
        "backchannel_logout_uri": receiver.url,
        "backchannel_logout_session_required": True,
    }
    with running_provider(realm="aixops", clients=[client]) as provider:
        yield provider


@pytest.fixture(scope="module")
def jwks(op):
    return jwt.PyJWKSet.from_dict(httpx.get(op.endpoint("certs")).json())


def verify(token: str, jwks, op, **kw) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.decode(
        token, jwks[kid].key, algorithms=["RS256"], audience=CLIENT_ID, issuer=op.issuer, **kw
    )


def login(op, username, password, *, scope="openid email profile"):
    """Drive the browser part of the code flow (PKCE S256) with httpx.

    Returns the cookie-carrying client (the "browser"), the callback query
    and the PKCE verifier / nonce used.
    """
    browser = httpx.Client(timeout=10)
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    r = browser.get(
        op.endpoint("auth"),
        params={
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": scope,
            "redirect_uri": REDIRECT_URI,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    while r.is_redirect:
        r = browser.get(urljoin(str(r.url), r.headers["location"]))
    assert r.status_code == 200, r.text
    assert 'id="kc-login"' in r.text and 'name="username"' in r.text and 'name="password"' in r.text
    action = html.unescape(
        re.search(r'<form id="kc-form-login" method="post" action="([^"]+)"', r.text)[1]
    )
    r = browser.post(urljoin(str(r.url), action), data={"username": username, "password": password})
    while r.is_redirect:
        location = urljoin(str(r.url), r.headers["location"])
        if location.startswith(
            REDIRECT_URI
        ):  # nothing listens there: stop like a browser would land
            query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
            assert query.get("state") == state, query
            return browser, query, verifier, nonce
        r = browser.get(location)
    return browser, {"_page": r}, verifier, nonce


def token_request(op, data: dict) -> httpx.Response:
    return httpx.post(op.endpoint("token"), data=data, auth=(CLIENT_ID, CLIENT_SECRET))


def code_flow(op, username, password):
    browser, query, verifier, nonce = login(op, username, password)
    assert "code" in query, query
    r = token_request(
        op,
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 200, r.text
    return browser, r.json(), nonce


KEYCLOAK_CLAIMS = (
    "sub",
    "preferred_username",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "groups",
    "realm_access",
    "resource_access",
)


def test_the_provider_runs_on_this_node_without_a_warning(op):
    # oidc-provider 9 supports Node 22 and later only and warns on Node 20 at every start;
    # the pinned 8.x supports Node 18 and later.
    httpx.get(op.discovery_url)
    assert "oidc-provider WARNING" not in op.logs()


def test_discovery_has_keycloak_layout(op, jwks):
    d = httpx.get(op.discovery_url).json()
    assert op.issuer.startswith("http://127.0.0.1:") and op.issuer.endswith("/realms/aixops")
    assert d["issuer"] == op.issuer
    for key, name in [
        ("authorization_endpoint", "auth"),
        ("token_endpoint", "token"),
        ("userinfo_endpoint", "userinfo"),
        ("jwks_uri", "certs"),
        ("end_session_endpoint", "logout"),
        ("revocation_endpoint", "revoke"),
    ]:
        assert d[key] == f"{op.issuer}/protocol/openid-connect/{name}"
    assert d["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "S256" in d["code_challenge_methods_supported"]
    assert d["backchannel_logout_supported"] and d["backchannel_logout_session_supported"]
    keys = httpx.get(d["jwks_uri"]).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k for k in keys)


def test_code_flow_with_pkce_and_keycloak_claims(op, jwks):
    _, tokens, nonce = code_flow(op, "admin", "admin")
    assert tokens["token_type"].lower() == "bearer" and tokens["refresh_token"]
    claims = verify(tokens["id_token"], jwks, op)
    assert claims["iss"] == op.issuer and claims["aud"] == CLIENT_ID and claims["nonce"] == nonce
    assert all(c in claims for c in (*KEYCLOAK_CLAIMS, "sid")), claims
    assert claims["preferred_username"] == "admin"
    assert claims["email_verified"] is True
    assert claims["groups"] == ["/platform/admins"]
    assert "aixops-admin" in claims["realm_access"]["roles"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", claims["sub"]
    )

    info = httpx.get(
        op.endpoint("userinfo"), headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200, info.text
    info = info.json()
    for c in KEYCLOAK_CLAIMS:
        assert info[c] == claims[c], c


def test_client_secret_post_and_member_claims(op, jwks):
    _browser, query, verifier, _ = login(op, "member", "member")
    r = httpx.post(
        op.endpoint("token"),
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200, r.text
    claims = verify(r.json()["id_token"], jwks, op)
    assert claims["groups"] == ["/platform/devops"]
    assert "aixops-member" in claims["realm_access"]["roles"]


def test_wrong_pkce_verifier_is_rejected(op):
    _, query, _, _ = login(op, "member", "member")
    r = token_request(
        op,
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "x" * 50,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_unverified_email_and_wrong_password(op, jwks):
    _, tokens, _ = code_flow(op, "unverified", "unverified")
    assert verify(tokens["id_token"], jwks, op)["email_verified"] is False

    _, query, _, _ = login(op, "admin", "wrong")
    page = query["_page"]
    assert page.status_code == 400 and "Invalid username or password." in page.text


def test_refresh_then_disabled_user_is_locked_out(op):
    op.upsert_user(
        {
            "username": "temp",
            "password": "temp",
            "email": "temp@aixops.test",
            "emailVerified": True,
            "realmRoles": ["aixops-member"],
            "groups": ["/platform/devops"],
        }
    )
    _, tokens, _ = code_flow(op, "temp", "temp")
    r = token_request(op, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    assert r.json()["id_token"] and r.json()["access_token"]
    refresh = r.json().get("refresh_token", tokens["refresh_token"])

    access = r.json()["access_token"]

    assert op.disable_user("temp")["enabled"] is False
    r = token_request(op, {"grant_type": "refresh_token", "refresh_token": refresh})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = httpx.get(op.endpoint("userinfo"), headers={"authorization": f"Bearer {access}"})
    assert r.status_code == 401
    r = httpx.post(
        op.endpoint("token/introspect"), data={"token": access}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert r.json() == {"active": False}
    _, query, _, _ = login(op, "temp", "temp")
    assert "Account is disabled" in query["_page"].text

    op.upsert_user({"username": "temp", "enabled": True})  # re-enable works without restart
    _, tokens, _ = code_flow(op, "temp", "temp")


def _check_logout_token(token, jwks, op, id_claims):
    claims = verify(token, jwks, op)
    assert BACKCHANNEL_EVENT in claims["events"]
    assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]
    assert "nonce" not in claims


def test_rp_initiated_logout_and_backchannel(op, jwks, receiver):
    browser, tokens, _ = code_flow(op, "member", "member")
    id_claims = verify(tokens["id_token"], jwks, op)
    receiver.reset()

    r = browser.get(
        op.endpoint("logout")
        + "?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": POST_LOGOUT_URI,
                "state": "bye",
            }
        )
    )
    assert r.status_code == 200
    # The page submits itself in a browser; here we submit the same form.
    action = html.unescape(
        re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)"', r.text)[1]
    )
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', r.text)[1]
    assert 'id="kc-logout"' in r.text and "click()" in r.text
    r = browser.post(urljoin(str(r.url), action), data={"xsrf": xsrf, "logout": "yes"})
    assert r.status_code == 303
    assert r.headers["location"] == POST_LOGOUT_URI + "?state=bye"

    _check_logout_token(receiver.wait_for_token(), jwks, op, id_claims)
    r = token_request(op, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400  # logout revoked the grant


def test_logout_hook_sends_backchannel(op, jwks, receiver):
    _, tokens, _ = code_flow(op, "admin", "admin")
    id_claims = verify(tokens["id_token"], jwks, op)
    receiver.reset()
    result = op.logout_user("admin")
    assert {"client_id": CLIENT_ID, "sid": id_claims["sid"]} in result["notified"]
    _check_logout_token(receiver.wait_for_token(), jwks, op, id_claims)
    r = token_request(op, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400


def test_test_hooks_off_by_default_and_process_stops():
    with running_provider(realm="other", test_hooks=False) as other:
        proc = other.process
        assert httpx.get(other.discovery_url).json()["issuer"].endswith("/realms/other")
        assert (
            httpx.post(f"{other.base_url}/_test/users", json={"username": "x"}).status_code == 404
        )
    assert proc.poll() is not None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", other.port)) != 0


def test_a_provider_that_never_listens_is_tried_twice_then_reported(tmp_path, monkeypatch):
    from devtools import oidc_provider

    # A stand-in for server.mjs that stays up without ever listening, and says who it is.
    (tmp_path / "node_modules" / "oidc-provider").mkdir(parents=True)
    (tmp_path / "node_modules" / "oidc-provider" / "package.json").write_text("{}")
    (tmp_path / "server.mjs").write_text(
        "import { appendFileSync } from 'node:fs';\n"
        "appendFileSync('pids', `${process.pid}\\n`);\n"
        "console.log('starting, never listening');\n"
        "setInterval(() => {}, 1000);\n"
    )
    monkeypatch.setattr(oidc_provider, "PROVIDER_DIR", tmp_path)
    monkeypatch.setattr(oidc_provider, "START_TIMEOUT", 1.0)

    with pytest.raises(oidc_provider.ProviderError) as refused, running_provider():
        pass

    message = str(refused.value)
    assert message.count("not ready at http://127.0.0.1:") == 2
    assert message.count("starting, never listening") == 2
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2
    for pid in pids:  # both attempts were stopped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
