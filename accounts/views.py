"""Sign-in, sign-out and back-channel logout pages of the portal."""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.sessions.backends.base import SessionBase
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from . import oidc, workspaces
from .access import member_required
from .models import LogoutTokenUse, OIDCSession, Workspace
from .services import client_ip, remember_language

log = logging.getLogger(__name__)


@never_cache
def login(request):
    """Where LOGIN_URL points. With Keycloak configured, on to Keycloak (keeping a safe
    `next`); without it, the local username and password form."""
    if oidc.enabled():
        target = reverse("oidc_authentication_init")
        next_url = oidc.safe_next(request, request.GET.get("next"))
        return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
    return auth_views.LoginView.as_view(template_name="accounts/login.html")(request)


class BreakGlassForm(AuthenticationForm):
    """The local form, for superusers only: Keycloak is the way in for everyone else."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_superuser:
            raise forms.ValidationError(
                _("Only superusers may use the break-glass sign-in."), code="not_superuser"
            )


class BreakGlassLoginView(auth_views.LoginView):
    """Emergency local sign-in for superusers while Keycloak is down (LOCAL_LOGIN_ENABLED)."""

    template_name = "accounts/break_glass.html"
    form_class = BreakGlassForm

    def dispatch(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN_ENABLED:
            raise Http404("The break-glass sign-in is switched off.")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        log.warning("Break-glass sign-in by %s", form.get_user())
        return super().form_valid(form)


def set_language(request):
    """Django's language switch (the top bar's); a signed-in person's pick is also the
    language the portal's e-mail to them is written in from then on."""
    response = i18n.set_language(request)
    if request.method == "POST" and request.user.is_authenticated:
        remember_language(request.user, request.POST.get("language", ""))
    return response


def signed_out(request):
    """Where Keycloak sends people back after signing out."""
    return render(request, "accounts/signed_out.html", {"sso": oidc.enabled()})


@csrf_exempt  # called by Keycloak, server to server; the signed token is the credential
@require_POST
@never_cache
def backchannel_logout(request):
    """OpenID Back-Channel Logout: end the portal sessions named by Keycloak's logout token."""
    token = request.POST.get("logout_token", "")
    if not token or not oidc.enabled():
        return JsonResponse({"error": "invalid_request"}, status=400)
    try:
        claims = oidc.verify_logout_token(token)
    except oidc.OIDCError as exc:
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


@require_safe
@member_required
def my_workspace(request):
    """The member's workspace: status, usage against quota, where to open it; or the button
    to request one. Three queries: the signed-in user, the workspace, and the categories
    the top bar links."""
    workspace = Workspace.objects.current_for(request.user)
    can_request = workspace is None or workspace.status == Workspace.Status.DELETED
    return render(
        request, "accounts/workspace.html", {"workspace": workspace, "can_request": can_request}
    )


@require_POST
@member_required
def request_workspace(request):
    """The request button: asks for a workspace (nothing happens if there is one)."""
    workspaces.request([request.user.pk], by=request.user, ip=client_ip(request))
    return redirect("accounts:workspace")
