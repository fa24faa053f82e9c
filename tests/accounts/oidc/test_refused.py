"""Tokens and requests the portal must refuse. These sign their own tokens with a test key
(no provider needed); the request-level ones go through the real provider."""

import base64
import json
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from accounts.models import LogoutTokenUse
from accounts.oidc import provider
from accounts.oidc.backend import PortalOIDCBackend
from tests.accounts.oidc.conftest import CLIENT_SECRET
from tests.accounts.oidc.flow import provider_login, sign_in
from tests.servers import JsonServer

ISSUER = "https://sso.example.test/realms/aixops"
CLIENT_ID = "aixops-portal"
CERTS = "/realms/aixops/protocol/openid-connect/certs"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key"


def public_jwk(key, kid=KID) -> dict:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid}


@pytest.fixture
def keys():
    """The realm's key set, served over real HTTP on loopback; `keys.asked` counts fetches."""
    with JsonServer({CERTS: {"keys": [public_jwk(KEY)]}}) as server:
        yield server


@pytest.fixture
def realm(settings, keys):
    """A realm whose discovery document the portal knows (no provider process needed) and
    whose keys it fetches from `keys`."""
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_OP_JWKS_ENDPOINT = keys.url(CERTS)
    provider.forget()
    yield keys
    provider.forget()


def sign(claims=None, *, key=KEY, alg="RS256", kid=KID, **overrides) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "s-1",
        "iat": now,
        "exp": now + 300,
        "nonce": "n-1",
        **(claims or {}),
        **overrides,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def check_id_token(token, nonce="n-1"):
    return PortalOIDCBackend().verify_token(token, nonce=nonce)


def test_a_good_id_token_passes(realm):
    assert check_id_token(sign())["sub"] == "s-1"


def test_tampered_signature_is_refused(realm):
    header, _payload, signature = sign().split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps(
            {
                "iss": ISSUER,
                "aud": CLIENT_ID,
                "sub": "admin",
                "exp": 2**31,
                "iat": int(time.time()),
                "nonce": "n-1",
            }
        ).encode()
    ).rstrip(b"=")
    with pytest.raises(SuspiciousOperation):
        check_id_token(f"{header}.{forged.decode()}.{signature}")


def test_token_signed_by_another_key_is_refused(realm):
    with pytest.raises(SuspiciousOperation):
        check_id_token(sign(key=OTHER_KEY))


def test_alg_none_is_refused(realm):
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": CLIENT_ID, "sub": "s-1", "exp": 2**31, "nonce": "n-1"},
        None,
        algorithm="none",
        headers={"kid": KID},
    )
    with pytest.raises(SuspiciousOperation):
        check_id_token(unsigned)


def test_hs256_with_the_public_key_as_secret_is_refused(realm):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": KID}).encode())
    body = base64.urlsafe_b64encode(json.dumps({"iss": ISSUER, "aud": CLIENT_ID}).encode())
    with pytest.raises(SuspiciousOperation):
        check_id_token(f"{header.decode()}.{body.decode()}.c2ln")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-client"},
        {"iss": "https://evil.example.test/realms/aixops"},
        {"exp": int(time.time()) - 3600},
        {"iss": None},
        {"aud": None},
        {"exp": None},
        {"sub": None},
    ],
    ids=["wrong aud", "wrong iss", "expired", "no iss", "no aud", "no exp", "no sub"],
)
def test_wrong_claims_are_refused(realm, claims):
    with pytest.raises(SuspiciousOperation):
        check_id_token(sign(claims))


def test_a_little_clock_skew_is_tolerated(realm):
    assert check_id_token(sign(exp=int(time.time()) - 5))


def test_nonce_mismatch_is_refused(realm):
    with pytest.raises(SuspiciousOperation):
        check_id_token(sign(), nonce="another")


def test_missing_nonce_is_refused(realm):
    with pytest.raises(SuspiciousOperation):
        check_id_token(sign(nonce=None), nonce=None)


def test_several_audiences_need_azp(realm):
    with pytest.raises(SuspiciousOperation):
        check_id_token(sign(aud=[CLIENT_ID, "other"]))
    assert check_id_token(sign(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))


def test_unknown_key_id_is_refused(realm):
    with pytest.raises(SuspiciousOperation):
        check_id_token(sign(kid="rotated-away"))


def test_a_rotated_key_is_fetched_but_made_up_keys_do_not_flood_the_provider(realm, monkeypatch):
    assert check_id_token(sign())["sub"] == "s-1"
    assert realm.asked[CERTS] == 1
    # Keycloak rotates its key: a token signed with the new one makes the portal fetch the
    # set again, once the minute since the last fetch is over.
    realm.documents[CERTS] = {"keys": [public_jwk(KEY), public_jwk(OTHER_KEY, "rotated")]}
    later = time.monotonic() + provider.JWKS_MIN_REFETCH_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert check_id_token(sign(key=OTHER_KEY, kid="rotated"))["sub"] == "s-1"
    assert realm.asked[CERTS] == 2
    # Tokens naming keys nobody has (anyone may post a logout token) fetch nothing more.
    for n in range(5):
        with pytest.raises(SuspiciousOperation):
            check_id_token(sign(kid=f"made-up-{n}"))
    assert realm.asked[CERTS] == 2


# --- back-channel logout tokens -------------------------------------------------------------

EVENT = {"http://schemas.openid.net/event/backchannel-logout": {}}


def logout_token(**overrides):
    claims = {
        "events": EVENT,
        "sid": "sid-1",
        "jti": str(uuid.uuid4()),
        "nonce": None,
        "exp": None,
        **overrides,
    }
    return sign(claims)


def post_logout(token):
    return Client().post("/oidc/backchannel-logout/", {"logout_token": token})


def test_a_good_logout_token_is_accepted_once(realm, db):
    token = logout_token()
    assert post_logout(token).status_code == 200
    assert LogoutTokenUse.objects.count() == 1
    replay = post_logout(token)
    assert replay.status_code == 400 and "replayed" in replay.json()["error_description"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"events": None},
        {"events": {"http://schemas.openid.net/event/other": {}}},
        {"nonce": "n-1"},
        {"sid": None, "sub": None},
        {"jti": None},
        {"aud": "another-client"},
        {"iss": "https://evil.example.test/realms/aixops"},
        {"iat": None},
        {"iat": int(time.time()) - 3600},
        {"iat": int(time.time()) + 3600},
    ],
    ids=[
        "no events",
        "wrong event",
        "nonce",
        "no sid or sub",
        "no jti",
        "wrong aud",
        "wrong iss",
        "no iat",
        "old iat",
        "future iat",
    ],
)
def test_bad_logout_tokens_get_a_400(realm, db, overrides):
    response = post_logout(logout_token(**overrides))
    assert response.status_code == 400
    assert not LogoutTokenUse.objects.exists()


def test_logout_token_with_a_bad_signature_gets_a_400(realm, db):
    assert (
        post_logout(sign({"events": EVENT, "sid": "x", "jti": "j"}, key=OTHER_KEY)).status_code
        == 400
    )
    assert post_logout("not-a-jwt").status_code == 400
    assert Client().post("/oidc/backchannel-logout/", {}).status_code == 400


def test_backchannel_logout_takes_only_post(realm, db):
    assert Client().get("/oidc/backchannel-logout/").status_code == 405


# --- requests, through the real provider --------------------------------------------------


def test_replayed_state_shows_the_try_again_page(sso):
    client = Client()
    start = client.get("/oidc/authenticate/")
    callback, _ = provider_login(
        start["Location"], "member", "member", stop_at="http://testserver/"
    )
    path = callback.removeprefix("http://testserver")
    assert client.get(path).status_code == 302
    replay = client.get(path)
    assert replay.status_code == 400
    body = replay.content.decode()
    assert 'data-reason="lost_state"' in body and "/oidc/authenticate/" in body


def test_callback_from_another_browser_shows_the_try_again_page(sso):
    start = Client().get("/oidc/authenticate/")
    callback, _ = provider_login(
        start["Location"], "member", "member", stop_at="http://testserver/"
    )
    response = Client().get(callback.removeprefix("http://testserver"))
    assert response.status_code == 400
    assert 'data-reason="lost_state"' in response.content.decode()


def test_provider_error_shows_a_friendly_page(sso):
    client = Client()
    client.get("/oidc/authenticate/")
    state = next(iter(client.session["oidc_states"]))
    response = client.get(
        "/oidc/callback/",
        {
            "error": "access_denied",
            "error_description": "User said no",
            "state": state,
            "iss": sso.issuer,
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-reason="provider_error"' in body and "User said no" in body
    assert state not in client.session.get("oidc_states", {})


def test_nonce_mismatch_through_the_provider_is_refused(sso):
    client = Client()
    start = client.get("/oidc/authenticate/")
    session = client.session
    state = next(iter(session["oidc_states"]))
    session["oidc_states"][state]["nonce"] = "not-the-nonce-sent"
    session.save()
    callback, _ = provider_login(
        start["Location"], "member", "member", stop_at="http://testserver/"
    )
    response = client.get(callback.removeprefix("http://testserver"))
    assert response.status_code == 400
    assert 'data-reason="refused"' in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example/", "https:evil.example", "/\\evil.example"]
)
def test_open_redirect_in_next_is_refused(sso, evil):
    client = Client()
    login = client.get("/accounts/login/", {"next": evil})
    assert login["Location"] == "/oidc/authenticate/"
    response, _ = sign_in(client, "member", next_url=evil)
    assert response.status_code == 302
    assert response["Location"] == "/"


def provider_answer(client, username="member") -> dict:
    """Start a sign-in with `client`, log in at the provider, and return the parameters it
    sends back to the callback (code, state, iss), without opening the callback yet."""
    start = client.get("/oidc/authenticate/")
    callback, _ = provider_login(
        start["Location"], username, username, stop_at="http://testserver/"
    )
    return {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}


def callback(client, answer: dict):
    return client.get(f"/oidc/callback/?{urlencode(answer)}")


def redeem(op, answer: dict, code_verifier: str) -> httpx.Response:
    """Exchange the code at the provider ourselves, as the portal would."""
    return httpx.post(
        op.endpoint("token"),
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": "http://testserver/oidc/callback/",
            "code_verifier": code_verifier,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )


def test_the_provider_names_itself_in_its_answer(sso):
    assert httpx.get(sso.discovery_url).json()["authorization_response_iss_parameter_supported"]
    assert provider_answer(Client())["iss"] == sso.issuer


@pytest.mark.parametrize(
    "iss", ["https://evil.example.test/realms/aixops", None], ids=["another issuer", "no iss"]
)
def test_an_answer_not_from_our_issuer_is_refused_before_the_code_is_used(sso, iss):
    # RFC 9207: a mix-up attack hands the portal another server's answer; with the provider
    # saying it always sends iss, an answer without it is refused too.
    client = Client()
    answer = provider_answer(client)
    verifier = client.session["oidc_states"][answer["state"]]["code_verifier"]
    answer = {**answer, "iss": iss} if iss else {k: v for k, v in answer.items() if k != "iss"}
    response = callback(client, answer)
    assert response.status_code == 400
    assert 'data-reason="refused"' in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert answer["state"] not in client.session["oidc_states"]
    # The code was never sent to the token endpoint: it is still good.
    assert redeem(sso, answer, verifier).status_code == 200


def test_a_provider_error_leaves_a_signed_in_user_signed_in(sso, catalog):
    client = Client()
    response, _ = sign_in(client, "admin")
    user_id = client.session["_auth_user_id"]
    client.get("/oidc/authenticate/")
    pending = list(client.session["oidc_states"])
    response = client.get(
        "/oidc/callback/",
        {"error": "login_required", "state": pending[-1], "iss": sso.issuer},
    )
    assert response.status_code == 400
    assert 'data-reason="provider_error"' in response.content.decode()
    assert client.session["_auth_user_id"] == user_id
    assert list(client.session["oidc_states"]) == pending[:-1]
    assert client.get("/categories/devops/").status_code == 200


def test_a_code_used_twice_is_refused_with_sign_in_again(sso):
    client = Client()
    client.get("/oidc/authenticate/")  # a second sign-in, pending in the same session
    pending = next(iter(client.session["oidc_states"]))
    answer = provider_answer(client)
    assert callback(client, answer).status_code == 302
    response = callback(client, {**answer, "state": pending})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-reason="code_refused"' in body and "/oidc/authenticate/" in body
    assert "다시 로그인하세요" in body  # "Please sign in again", in the default language


def test_a_code_from_another_session_is_refused_with_sign_in_again(sso):
    answer = provider_answer(Client())
    client = Client()
    client.get("/oidc/authenticate/")
    state = next(iter(client.session["oidc_states"]))
    response = callback(client, {**answer, "state": state})
    assert response.status_code == 400
    assert 'data-reason="code_refused"' in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("answer", ["refused", "500", "hang"])
def test_a_token_endpoint_that_does_not_answer_shows_provider_unreachable(
    sso, settings, http_server, refused_port, answer
):
    client = Client()
    provider = provider_answer(client)
    settings.OIDC_TIMEOUT = 0.5
    settings.OIDC_OP_TOKEN_ENDPOINT = {
        "refused": f"http://127.0.0.1:{refused_port}/token",
        "500": http_server.url("/error"),
        "hang": http_server.url("/hang"),
    }[answer]
    response = callback(client, provider)
    assert response.status_code == 502
    assert 'data-reason="provider_unreachable"' in response.content.decode()
