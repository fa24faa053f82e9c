"""Signing people in from Keycloak's tokens: mozilla-django-oidc's code-flow backend, matched
by `sub`, with the portal's own token checks (accounts.oidc.provider)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from aixops.networks import client_ip

from .. import services
from ..backends import SessionUserMixin
from .provider import OIDCError, decode, endpoint, signing_key


def roles_from_claims(claims: dict) -> frozenset[str]:
    """Keycloak realm roles and this client's roles."""
    roles = set(claims.get("realm_access", {}).get("roles", []) or [])
    client = claims.get("resource_access", {}).get(settings.OIDC_RP_CLIENT_ID, {}) or {}
    roles.update(client.get("roles", []) or [])
    return frozenset(r for r in roles if isinstance(r, str))


def identity_from_claims(claims: dict) -> services.Identity:
    """Turn verified claims into an Identity, applying the unverified-e-mail policy."""
    email = (claims.get("email") or "").strip()
    verified = claims.get("email_verified") is True
    if email and not verified:
        policy = settings.OIDC_UNVERIFIED_EMAIL
        if policy == "reject":
            raise SuspiciousOperation("e-mail address not verified by the provider")
        if policy == "drop":
            email = ""
    groups = claims.get("groups") or []
    return services.Identity(
        subject=claims["sub"],
        username=(claims.get("preferred_username") or claims["sub"]).strip(),
        email=email[:254],
        email_verified=verified,
        first_name=claims.get("given_name") or "",
        last_name=claims.get("family_name") or "",
        roles=roles_from_claims(claims),
        groups=frozenset(g for g in groups if isinstance(g, str)),
        # Keycloak sends the user's `locale` when the realm has internationalisation on.
        language=services.supported_language(claims.get("locale")),
    )


class PortalOIDCBackend(SessionUserMixin, OIDCAuthenticationBackend):
    """mozilla-django-oidc's code-flow backend, matched by `sub`, with full id_token checks.

    Django builds a backend object for every request that reads the signed-in user, so
    `__init__` reads nothing and the endpoints are looked up only during a sign-in.
    """

    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_IDP_SIGN_KEY = None

    def __init__(self, *args, **kwargs):
        self.UserModel = auth.get_user_model()

    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)
    OIDC_RP_CLIENT_SECRET = property(lambda self: settings.OIDC_RP_CLIENT_SECRET)
    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: endpoint("token_endpoint"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: endpoint("userinfo_endpoint"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: endpoint("jwks_uri"))

    def retrieve_matching_jwk(self, token):
        try:
            return signing_key(token)
        except OIDCError as exc:
            raise SuspiciousOperation(str(exc)) from None

    def get_payload_data(self, token, key):
        # Replaces the library's check (signature only) with signature + iss + aud + exp.
        try:
            return decode(token, require=["iss", "aud", "exp", "iat", "sub"])
        except OIDCError as exc:
            raise SuspiciousOperation(f"id_token refused: {exc}") from None

    def verify_token(self, token, **kwargs):
        if not token:
            raise SuspiciousOperation("the token response has no id_token")
        payload = super().verify_token(token, **kwargs)  # signature, claims above, nonce
        if "nonce" not in kwargs or not payload.get("nonce"):
            raise SuspiciousOperation("id_token has no nonce")
        return payload

    def get_token(self, payload):
        tokens = super().get_token(payload)
        self.refresh_token = tokens.get("refresh_token")
        return tokens

    def store_tokens(self, access_token, id_token):
        super().store_tokens(access_token, id_token)
        # Kept server-side in the session for OIDCSessionRefresh; never sent to the browser.
        self.request.session["oidc_refresh_token"] = getattr(self, "refresh_token", None)

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # OIDC Core 5.3.2: userinfo must be about the same subject as the id_token.
        if userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("userinfo sub does not match the id_token")
        identity = identity_from_claims({**payload, **userinfo})
        user = services.sign_in_member(identity=identity, ip=client_ip(self.request))
        self.request.session["oidc_sid"] = payload.get("sid", "")
        self.request.session["oidc_sub"] = payload["sub"]
        return user
