"""Keycloak sessions in the portal: ending the portal sessions of a Keycloak session, when
Keycloak says so over the back channel (OpenID Back-Channel Logout 1.0)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..models import LogoutTokenUse, OIDCSession
from .provider import OIDCError, enabled, verify_logout_token

log = logging.getLogger(__name__)


@csrf_exempt  # called by Keycloak, server to server; the signed token is the credential
@require_POST
@never_cache
def backchannel_logout(request):
    """OpenID Back-Channel Logout: end the portal sessions named by Keycloak's logout token."""
    token = request.POST.get("logout_token", "")
    if not token or not enabled():
        return JsonResponse({"error": "invalid_request"}, status=400)
    try:
        claims = verify_logout_token(token)
    except OIDCError as exc:
        log.warning("Back-channel logout refused: %s", exc)
        return JsonResponse({"error": "invalid_request", "error_description": str(exc)}, status=400)
    # The jti's unique index makes the replay check atomic across workers.
    _, first_time = LogoutTokenUse.objects.get_or_create(jti=str(claims["jti"])[:255])
    if not first_time:
        log.warning("Back-channel logout token replayed: %s", claims["jti"])
        return JsonResponse(
            {"error": "invalid_request", "error_description": "token replayed"}, status=400
        )
    ended = end_oidc_sessions(sid=claims.get("sid"), sub=claims.get("sub"))
    log.info("Back-channel logout ended %d session(s)", ended)
    return JsonResponse({"ended": ended})


def end_oidc_sessions(*, sid: str | None, sub: str | None) -> int:
    """Delete the Django sessions of a Keycloak session (sid) or of a subject (sub)."""
    rows = OIDCSession.objects.all()
    rows = rows.filter(sid=sid) if sid else rows.filter(sub=sub)
    if sid and sub:
        rows = rows.filter(sub=sub)
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    keys = list(rows.values_list("session_key", flat=True))
    for key in keys:
        # Through the SessionStore, not the table: cached_db must forget the cached copy too.
        store(session_key=key).delete()
    rows.delete()
    return len(keys)
