"""The identity provider as the portal sees it: its discovery document, its signing keys,
and the checks every token it issues must pass.

mozilla-django-oidc checks the signature and the nonce of an id_token but not its `iss` or
`aud`; `decode` checks those too, and pins RS256.
"""

from __future__ import annotations

import threading
import time

import jwt
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGORITHMS = ["RS256"]
# The key set is fetched again after this long (key rotation), or at once for an unknown
# `kid`, but then not more often than once a minute: a flood of tokens naming made-up keys
# (the back-channel logout endpoint is open) must not become a flood of calls to Keycloak.
JWKS_LIFESPAN_SECONDS = 3600
JWKS_MIN_REFETCH_SECONDS = 60

_ENDPOINT_SETTINGS = {
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
    "end_session_endpoint": "OIDC_OP_LOGOUT_ENDPOINT",
}

_lock = threading.Lock()
_discovery: dict[str, dict] = {}  # issuer -> discovery document
_key_sets: dict[str, jwt.PyJWKClient] = {}  # jwks_uri -> its client, which caches the keys


class OIDCError(Exception):
    """A sign-in or logout message that fails a check; the text says which."""


def forget() -> None:
    """Drop what this process learnt from the provider (its discovery document, its keys),
    so that the next sign-in asks again: a fresh process, for tests and a changed realm."""
    with _lock:
        _discovery.clear()
        _key_sets.clear()


def enabled() -> bool:
    """Whether the portal signs people in through Keycloak."""
    return bool(settings.OIDC_ISSUER)


def discovery() -> dict:
    """The issuer's discovery document, fetched once per process and issuer."""
    issuer = settings.OIDC_ISSUER
    if not issuer:
        raise ImproperlyConfigured("OIDC_ISSUER is not set.")
    document = _discovery.get(issuer)
    if document is None:
        with _lock:
            document = _discovery.get(issuer)
            if document is None:
                response = requests.get(
                    f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
                )
                response.raise_for_status()
                document = response.json()
                # OpenID Discovery 4.3: the document must name the issuer we asked.
                if document.get("issuer") != issuer:
                    raise ImproperlyConfigured(
                        f"The discovery document at {issuer} names issuer "
                        f"{document.get('issuer')!r}; OIDC_ISSUER must match it exactly."
                    )
                _discovery[issuer] = document
    return document


def endpoint(name: str) -> str:
    """An endpoint URL: its setting when set (e.g. OIDC_OP_TOKEN_ENDPOINT), else discovery."""
    override = getattr(settings, _ENDPOINT_SETTINGS[name], "")
    if override:
        return override
    url = discovery().get(name)
    if not url:
        raise ImproperlyConfigured(f"The provider's discovery document has no {name}.")
    return url


def signing_key(token: str) -> jwt.PyJWK:
    """The RS256 key that signed `token`, from the provider's key set (PyJWKClient's cache)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise OIDCError(f"malformed token: {exc}") from None
    if header.get("alg") not in ALGORITHMS:
        raise OIDCError(f"token algorithm {header.get('alg')!r} is not allowed")
    uri = endpoint("jwks_uri")
    client = _key_sets.get(uri)
    if client is None:
        client = _key_sets.setdefault(
            uri,
            jwt.PyJWKClient(
                uri,
                lifespan=JWKS_LIFESPAN_SECONDS,
                cooldown_duration=JWKS_MIN_REFETCH_SECONDS,
                timeout=settings.OIDC_TIMEOUT,
            ),
        )
    try:
        return client.get_signing_key(header.get("kid"))
    except jwt.PyJWKClientConnectionError as exc:
        raise OIDCError(f"the provider's key set could not be fetched: {exc}") from None
    except jwt.PyJWKClientError as exc:
        raise OIDCError(f"no key {header.get('kid')!r} in the provider's key set ({exc})") from None


def decode(token: str, *, require: list[str]) -> dict:
    """Verify signature (RS256 only), `iss`, `aud` (this client) and the time claims."""
    key = signing_key(token)
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=settings.OIDC_RP_CLIENT_ID,
            issuer=settings.OIDC_ISSUER,
            leeway=settings.OIDC_LEEWAY,
            options={"require": require},
        )
    except jwt.PyJWTError as exc:
        raise OIDCError(str(exc)) from None
    # OIDC Core 3.1.3.7: with several audiences, azp must be us.
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != settings.OIDC_RP_CLIENT_ID:
        raise OIDCError("token has several audiences and azp is not this client")
    return claims


def verify_logout_token(token: str) -> dict:
    """Check a back-channel logout token (OpenID Back-Channel Logout 1.0, 2.6)."""
    claims = decode(token, require=["iss", "aud", "iat", "jti"])
    now = time.time()
    if claims["iat"] < now - settings.OIDC_LOGOUT_TOKEN_MAX_AGE:
        raise OIDCError("logout token is too old")
    if claims["iat"] > now + settings.OIDC_LEEWAY:
        raise OIDCError("logout token is issued in the future")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise OIDCError("logout token has no back-channel logout event")
    if "nonce" in claims:
        raise OIDCError("logout token must not have a nonce")
    if not claims.get("sid") and not claims.get("sub"):
        raise OIDCError("logout token names neither sid nor sub")
    return claims
