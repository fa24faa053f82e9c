"""Sign-in and sign-out pages of the portal: on to Keycloak, or the local and break-glass
forms; the language switch; the signed-out page; a member's personal API tokens."""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from aixops.networks import client_ip

from .access import member_required
from .models import ApiToken, ApiTokenError
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


class ApiTokenForm(forms.Form):
    """A new personal API token: what it is for, and when it stops working."""

    name = forms.CharField(
        label=_("Name"),
        max_length=ApiToken.NAME_MAX_LENGTH,
        help_text=_("What the token is for, e.g. the CI job that uses it."),
    )
    expires_in_days = forms.TypedChoiceField(
        label=_("Expires"),
        choices=[
            (30, _("in 30 days")),
            (90, _("in 90 days")),
            (365, _("in a year")),
            ("", _("never")),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        initial=90,  # a token forgotten in a CI job should not work forever
    )


@require_safe
@never_cache
@member_required
def api_tokens(request):
    """A member's own API tokens: the list (name, prefix, created, expiry, last use) and
    the form that makes one. Three queries: the signed-in user, the tokens, and the top
    bar's categories."""
    return _api_tokens_page(request, ApiTokenForm())


@require_POST
@never_cache
@member_required
def create_api_token(request):
    """Make a token and show its secret on this answer only (it is stored hashed); the
    answer is never cached."""
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _api_tokens_page(request, form, status=400)
    try:
        _token, secret = ApiToken.objects.issue(
            owner=request.user,
            name=form.cleaned_data["name"],
            expires_in_days=form.cleaned_data["expires_in_days"],
            by=request.user,
            ip=client_ip(request),
        )
    except ApiTokenError as exc:
        form.add_error("name", str(exc))
        return _api_tokens_page(request, form, status=400)
    return _api_tokens_page(request, ApiTokenForm(), new_secret=secret)


@require_POST
@member_required
def revoke_api_token(request, pk: int):
    """Revoke one of the member's own tokens (another's is a 404); twice is harmless."""
    token = get_object_or_404(ApiToken, pk=pk, owner=request.user)
    token.revoke(by=request.user, ip=client_ip(request))
    return redirect("accounts:api-tokens")


def _api_tokens_page(request, form, *, status=200, new_secret=""):
    return render(
        request,
        "accounts/api_tokens.html",
        {"tokens": request.user.api_tokens.all(), "form": form, "new_secret": new_secret},
        status=status,
    )
