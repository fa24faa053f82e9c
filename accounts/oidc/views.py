"""The sign-in and sign-out views around Keycloak: starting a sign-in, finishing it (the
callback), ending it (RP-initiated logout), and the friendly failure page.

mozilla-django-oidc ignores the `iss` of the authorization response (RFC 9207);
`PortalCallbackView` checks it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from ..models import OIDCSession
from .provider import discovery, enabled, endpoint

log = logging.getLogger(__name__)


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


def failure_page(request, reason: str, *, status: int, detail: str = ""):
    """The friendly sign-in failure page, with a button to try again."""
    return render(
        request,
        "accounts/sign_in_failed.html",
        {"reason": reason, "detail": detail[:200], "sso": enabled()},
        status=status,
    )
