"""Keeps a Keycloak-backed session honest: it is re-checked with the provider every
OIDC_REFRESH_INTERVAL seconds, so a user disabled or signed out in Keycloak loses access.

mozilla-django-oidc's SessionRefresh does this with a `prompt=none` browser redirect, which a
JSON API client cannot follow. This middleware instead uses the refresh token server-side:
the same answer for pages and API calls, and no round trip through the browser.
"""

import logging
import time

import requests
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from . import provider as oidc

log = logging.getLogger(__name__)

EXPIRY_KEY = "oidc_id_token_expiration"


class OIDCSessionRefresh:
    """Refresh the OIDC session when its interval has passed; end it if Keycloak says no."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only sessions made by the OIDC callback carry the expiry; reading it costs nothing
        # (the session comes from the cache) and local sessions skip the rest.
        expiry = request.session.get(EXPIRY_KEY)
        if expiry is not None and expiry <= time.time() and not self._exempt(request):
            denied = self._refresh(request)
            if denied is not None:
                return denied
        return self.get_response(request)

    @staticmethod
    def _exempt(request) -> bool:
        # A call signed in by a personal API token (accounts.tokens) does not use the
        # session it may also carry.
        return (
            request.path.startswith("/oidc/")
            or request.path.startswith("/static/")
            or getattr(request, "api_token", None) is not None
        )

    def _refresh(self, request):
        session = request.session
        refresh_token = session.get("oidc_refresh_token")
        if refresh_token and oidc.enabled():
            try:
                response = requests.post(
                    oidc.endpoint("token_endpoint"),
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": refresh_token,
                        "client_id": settings.OIDC_RP_CLIENT_ID,
                        "client_secret": settings.OIDC_RP_CLIENT_SECRET,
                    },
                    timeout=settings.OIDC_TIMEOUT,
                )
            except requests.RequestException as exc:
                # Keycloak unreachable: keep the session and ask again at the next request,
                # rather than signing everybody out during a provider outage.
                log.warning("Session refresh could not reach the provider: %s", exc)
                return None
            if response.status_code == 200:
                tokens = response.json()
                if self._still_the_same_person(tokens, session.get("oidc_sub")):
                    session["oidc_refresh_token"] = tokens.get("refresh_token", refresh_token)
                    if tokens.get("id_token"):
                        session["oidc_id_token"] = tokens["id_token"]
                    session[EXPIRY_KEY] = time.time() + settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS
                    return None
            log.info("Session refresh refused (%s); signing the user out", response.status_code)
        auth.logout(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"error": "session expired, sign in again"}, status=401)
        return redirect_to_login(request.get_full_path())

    @staticmethod
    def _still_the_same_person(tokens: dict, sub: str | None) -> bool:
        id_token = tokens.get("id_token")
        if not id_token:
            return True  # Keycloak always sends one; without it the refresh grant is enough
        try:
            claims = oidc.decode(id_token, require=["iss", "aud", "exp", "sub"])
        except oidc.OIDCError as exc:
            log.warning("Refreshed id_token refused: %s", exc)
            return False
        return claims["sub"] == sub
