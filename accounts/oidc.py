"""Keycloak single sign-on on top of mozilla-django-oidc: discovery, key cache, token checks,
and the views that start and finish a sign-in.

mozilla-django-oidc checks the signature and the nonce of an id_token but not its `iss` or
`aud`; `PortalOIDCBackend.get_payload_data` checks those too, and pins RS256. It ignores the
`iss` of the authorization response (RFC 9207); `PortalCallbackView` checks it.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from . import services
from .backends import SessionUserMixin
from .models import OIDCSession

log = logging.getLogger(__name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGORITHMS = ["RS256"]
# A JWKS is fetched again for an unknown `kid` (key rotation), but not more often than this.
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
_jwks: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}  # jwks_uri -> (fetched, kid -> key)


class OIDCError(Exception):
    """A sign-in or logout message that fails a check; the text says which."""


def enabled() -> bool:
    """Whether the portal signs people in through Keycloak."""
    return bool(settings.OIDC_ISSUER)


def _get_json(url: str) -> dict:
    response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=True)
    response.raise_for_status()
    return response.json()


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
                document = _get_json(f"{issuer}/.well-known/openid-configuration")
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
    """The RS256 key that signed `token`, from the cached JWKS (fetched again only for an
    unknown key id, and then at most once a minute)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise OIDCError(f"malformed token: {exc}") from None
    if header.get("alg") not in ALGORITHMS:
        raise OIDCError(f"token algorithm {header.get('alg')!r} is not allowed")
    kid = header.get("kid")
    uri = endpoint("jwks_uri")
    fetched, keys = _jwks.get(uri, (0.0, {}))
    if kid not in keys and time.monotonic() - fetched > JWKS_MIN_REFETCH_SECONDS:
        with _lock:
            fetched, keys = _jwks.get(uri, (0.0, {}))
            if kid not in keys and time.monotonic() - fetched > JWKS_MIN_REFETCH_SECONDS:
                keys = {}
                for data in _get_json(uri).get("keys", []):
                    if data.get("kty") == "RSA" and data.get("use", "sig") == "sig":
                        keys[data.get("kid")] = jwt.PyJWK(data, algorithm="RS256")
                fetched = time.monotonic()
                _jwks[uri] = (fetched, keys)
    key = keys.get(kid)
    if key is None:
        raise OIDCError(f"no key {kid!r} in the provider's JWKS")
    return key


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
        user = services.sign_in_member(identity=identity, ip=services.client_ip(self.request))
        self.request.session["oidc_sid"] = payload.get("sid", "")
        self.request.session["oidc_sub"] = payload["sub"]
        return user


def safe_next(request, url: str | None) -> str | None:
    """`url` if it stays on this site (or an allowed host), else None: no open redirects."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


class PortalAuthenticationRequestView(OIDCAuthenticationRequestView):
    """Starts a sign-in: state, nonce and PKCE S256 in the session, then off to Keycloak."""

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        if not enabled():
            return failure_page(request, "not_configured", status=404)
        try:
            self.OIDC_OP_AUTH_ENDPOINT = endpoint("authorization_endpoint")
        except (requests.RequestException, ImproperlyConfigured, ValueError) as exc:
            log.error("Cannot reach the identity provider: %s", exc)
            return failure_page(request, "provider_unreachable", status=503)
        return super().get(request)


def from_our_issuer(answer) -> bool:
    """Whether an authorization response (the callback's query) comes from OIDC_ISSUER
    (RFC 9207): its `iss` must be ours, and a provider that says it always sends `iss`
    (Keycloak does) must have sent it. Refusing otherwise stops a mix-up attack, in which
    the portal is handed another server's answer."""
    if "iss" in answer:
        return answer["iss"] == settings.OIDC_ISSUER
    return not discovery().get("authorization_response_iss_parameter_supported", False)


def forget_state(request, state: str | None) -> None:
    """Drop one pending sign-in, so that its answer cannot be replayed."""
    states = request.session.get("oidc_states") or {}
    if state in states:
        del states[state]
        request.session.modified = True


class PortalCallbackView(OIDCAuthenticationCallbackView):
    """Finishes a sign-in. Any failure shows a page with a way to try again, never a bare 400.

    It also remembers which Keycloak session (`sid`) this Django session belongs to, for
    back-channel logout.
    """

    def get(self, request):
        if not enabled():
            return failure_page(request, "not_configured", status=404)
        state = request.GET.get("state")
        try:
            trusted = from_our_issuer(request.GET)
        except (requests.RequestException, ImproperlyConfigured, ValueError) as exc:
            log.error("Cannot reach the identity provider: %s", exc)
            return failure_page(request, "provider_unreachable", status=502)
        if not trusted:
            log.warning("Sign-in refused: answer from issuer %r", request.GET.get("iss"))
            forget_state(request, state)
            return failure_page(request, "refused", status=400)
        if request.GET.get("error"):
            log.info("Provider returned an error: %s", request.GET.get("error"))
            # Only this sign-in ends. mozilla-django-oidc also signs the user out (for its
            # prompt=none session refresh, which the portal does not use): a link to this
            # URL must not end anybody's session.
            forget_state(request, state)
            detail = request.GET.get("error_description") or request.GET["error"]
            return failure_page(request, "provider_error", status=400, detail=detail)
        if not state or state not in (request.session.get("oidc_states") or {}):
            # A second tab finished first, the back button, or an expired session.
            return failure_page(request, "lost_state", status=400)
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            log.warning("Sign-in refused: %s", exc)
            return failure_page(request, "refused", status=400)
        except requests.RequestException as exc:
            # A 4xx is the provider answering no: invalid_grant for a code used already,
            # issued to another sign-in (PKCE) or expired. Anything else: it did not answer.
            if exc.response is not None and 400 <= exc.response.status_code < 500:
                log.warning("Sign-in refused by the provider: %s", exc)
                return failure_page(request, "code_refused", status=400)
            log.warning("Sign-in failed talking to the provider: %s", exc)
            return failure_page(request, "provider_unreachable", status=502)

    def login_failure(self):
        # The state was checked in get(): what fails here is the token, the claims or an
        # inactive account.
        return failure_page(self.request, "refused", status=400)

    def login_success(self):
        # One transaction for the session key change, last_login and the sid mapping: one
        # commit instead of four (the callback's time budget).
        with transaction.atomic():
            response = super().login_success()
            session = self.request.session
            OIDCSession.objects.create(
                session_key=session.session_key,  # fresh: login() has just cycled it
                sid=session.get("oidc_sid", ""),
                sub=session.get("oidc_sub", ""),
                user=self.user,
            )
        return response

    @property
    def success_url(self):
        return safe_next(self.request, self.request.session.get("oidc_login_next")) or reverse(
            "portal:home"
        )


class PortalLogoutView(OIDCLogoutView):
    """Ends the portal session, then (for a Keycloak session) the Keycloak session too."""

    http_method_names = ["post"]

    def post(self, request):
        if request.session.session_key:
            OIDCSession.objects.filter(session_key=request.session.session_key).delete()
        return super().post(request)


def provider_logout_url(request) -> str:
    """RP-initiated logout: Keycloak's end-session URL with id_token_hint and where to come
    back to; a local (break-glass) session just goes to the signed-out page."""
    back = request.build_absolute_uri(reverse("accounts:signed-out"))
    id_token = request.session.get("oidc_id_token")
    if not (enabled() and id_token):
        return reverse("accounts:signed-out")
    try:
        end_session = endpoint("end_session_endpoint")
    except (requests.RequestException, ImproperlyConfigured) as exc:
        log.warning("No end-session endpoint, signing out of the portal only: %s", exc)
        return reverse("accounts:signed-out")
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": back,
            "client_id": settings.OIDC_RP_CLIENT_ID,
        }
    )
    return f"{end_session}?{query}"


FAILURES = {
    "provider_error": "provider_error",
    "lost_state": "lost_state",
    "refused": "refused",
    "code_refused": "code_refused",
    "provider_unreachable": "provider_unreachable",
    "not_configured": "not_configured",
}


def failure_page(request, reason: str, *, status: int, detail: str = ""):
    """The friendly sign-in failure page, with a button to try again."""
    return render(
        request,
        "accounts/sign_in_failed.html",
        {"reason": FAILURES[reason], "detail": detail[:200], "sso": enabled()},
        status=status,
    )
