"""Sign-in and sign-out pages of the portal: on to Keycloak, or the local and break-glass
forms; the language switch; the signed-out page."""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views import i18n
from django.views.decorators.cache import never_cache

from .oidc.provider import enabled as sso_enabled
from .oidc.views import safe_next
from .services import remember_language

log = logging.getLogger(__name__)


@never_cache
def login(request):
    """Where LOGIN_URL points. With Keycloak configured, on to Keycloak (keeping a safe
    `next`); without it, the local username and password form."""
    if sso_enabled():
        target = reverse("oidc_authentication_init")
        next_url = safe_next(request, request.GET.get("next"))
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
    return render(request, "accounts/signed_out.html", {"sso": sso_enabled()})
