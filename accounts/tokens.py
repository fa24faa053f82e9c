"""Signing a script in by its personal API token (`Authorization: Bearer <token>`), for
the JSON API under /api/ only, and holding back addresses that keep sending wrong tokens.

The token makes the request its owner's: `request.user` is the member, so every access
check (accounts.access) answers a token exactly as it answers that member's session.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.utils import timezone

from aixops.networks import client_ip

from .models import ApiToken

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
# `last_used_at` is a hint for the owner, not an audit trail: written at most this often per
# token, so a busy script costs no write on most of its calls.
LAST_USED_EVERY = timedelta(minutes=1)


def bearer_secret(request) -> str | None:
    """The token of an `Authorization: Bearer …` header; None when there is no such
    header (another scheme is not ours to judge)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def token_for(secret: str, *, now: datetime) -> ApiToken | None:
    """The usable token whose secret this is, with its owner, in one indexed query (by
    the secret's digest, joined to the user); None for anything else. A secret of the
    wrong shape is refused before any query."""
    if not ApiToken.SECRET_SHAPE.fullmatch(secret):
        return None
    token = (
        ApiToken.objects.select_related("owner").filter(digest=ApiToken.digest_of(secret)).first()
    )
    if token is None or not token.is_usable(now=now) or not token.owner.is_active:
        return None
    return token


def note_use(token: ApiToken, *, now: datetime) -> None:
    """Keep `last_used_at` within LAST_USED_EVERY of the truth, writing only when it is
    older than that."""
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


class FailedAttempts:
    """Wrong tokens per client address in fixed windows of API_TOKEN_FAILURE_WINDOW
    seconds, counted in Django's cache (shared by every web worker): once an address has
    sent API_TOKEN_FAILURE_LIMIT of them, every token it sends is refused until the window
    ends, right ones too, so that guessing learns nothing."""

    def __init__(self, address: str, now: datetime):
        window = settings.API_TOKEN_FAILURE_WINDOW
        moment = int(now.timestamp())
        self.key = f"api-token-failures:{address}:{moment // window}"
        self.retry_after = window - moment % window
        self.window = window

    def exhausted(self) -> bool:
        return cache.get(self.key, 0) >= settings.API_TOKEN_FAILURE_LIMIT

    def add(self) -> None:
        # add() then incr(): atomic on a shared cache (Redis INCR), so concurrent workers
        # never lose a count; the key outlives its window by nothing.
        cache.add(self.key, 0, timeout=self.window)
        try:
            cache.incr(self.key)
        except ValueError:  # expired between the two calls: a new window
            cache.set(self.key, 1, timeout=self.window)


def refusal(status: int, error: str, headers: dict) -> JsonResponse:
    return JsonResponse({"error": error}, status=status, headers=headers)


class BearerTokenMiddleware:
    """Sign API calls that carry a bearer token in as the token's owner (after Django's
    AuthenticationMiddleware, so the token wins over a session cookie sent with it).

    A wrong, revoked or expired token is a 401 at once, never a fall back to the session:
    a script must learn that its token no longer works. An address over the limit of
    wrong tokens gets 429 with Retry-After, before any query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            secret = bearer_secret(request)
            if secret is not None:
                refused = self.sign_in(request, secret)
                if refused is not None:
                    return refused
        return self.get_response(request)

    @staticmethod
    def sign_in(request, secret: str) -> JsonResponse | None:
        now = timezone.now()
        address = client_ip(request) or "unknown"
        attempts = FailedAttempts(address, now)
        if attempts.exhausted():
            return refusal(
                429,
                "too many invalid tokens, try again later",
                {"Retry-After": str(attempts.retry_after)},
            )
        token = token_for(secret, now=now)
        if token is None:
            attempts.add()
            log.info("refused an invalid API token from %s", address)
            return refusal(
                401, "invalid token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        request.user = token.owner
        request.api_token = token
        note_use(token, now=now)
        return None
