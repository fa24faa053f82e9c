"""Who may read the portal: the one place every portal page and API endpoint is guarded,
for sessions and personal API tokens alike; and whom staff may change in the admin UI (and
the staff API), and what they may grant."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q
from django.shortcuts import render
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from aixops.api import ApiError

# What may be called without a CSRF token: reads.
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_member(user) -> bool:
    """Whether the user is an approved member: signed in and let in."""
    return user.is_authenticated and user.is_approved


def member_required(view):
    """Let approved members through. Others never get data: anonymous visitors are sent to
    sign in, and pending, rejected and suspended members get a page that says so. (API
    endpoints use ApiAccess, which answers the same in JSON.)

    The membership state is a field on the user row, so this costs no query beyond loading
    the signed-in user.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user.is_approved:
            return view(request, *args, **kwargs)
        return membership_page(request)

    return wrapped


class ApiAccess(AuthBase):
    """Who may call an endpoint of the JSON API (aixops.api), as django-ninja's `auth`:
    approved members, by personal API token (`request.user` is the token's owner,
    accounts.tokens) or by session, and with `permission`, only staff holding it (as the
    admin UI asks of them). Refusals say why in JSON, as pages do in words; a session's
    changes (POST) must carry the CSRF token, as forms do; a bearer token needs none.
    """

    # The OpenAPI schema's security scheme: the bearer token scripts use.
    openapi_type = "http"
    openapi_scheme = "bearer"

    def __init__(self, *, permission: str = ""):
        self.permission = permission
        super().__init__()

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated:
            raise ApiError(
                401, {"error": "authentication required"}, {"WWW-Authenticate": "Bearer"}
            )
        if not user.is_approved:
            raise ApiError(403, {"error": "membership not approved", "membership": user.membership})
        if self.permission and not (user.is_staff and user.has_perm(self.permission)):
            raise ApiError(403, {"error": "staff only"})
        by_session = getattr(request, "api_token", None) is None
        if by_session and request.method not in SAFE_METHODS and check_csrf(request):
            raise ApiError(403, {"error": "CSRF check failed"})
        return user


def membership_page(request):
    """The waiting page (pending) or the rejected / suspended page, answered with 403."""
    return render(
        request,
        f"accounts/membership_{request.user.membership}.html",
        {"contact": settings.MEMBER_APPROVAL_CONTACT},
        status=403,
    )


def keycloak_groups(user, *, among) -> frozenset[str]:
    """Of the Keycloak groups `user` was in at their last sign-in (full paths, kept as the
    names of their Django groups by accounts.services), those in `among`; one query. What
    the catalog's group limits are checked against (portal.visibility)."""
    return frozenset(user.groups.filter(name__in=among).values_list("name", flat=True))


def may_change_account(actor, account) -> bool:
    """Only a superuser changes a superuser's account. Staff get their admin rights from
    Keycloak's admin role; were they able to edit, suspend or delete a superuser, they could
    lock out the break-glass account or take it over."""
    return actor.is_superuser or not account.is_superuser


def accounts_changeable_by(actor, accounts):
    """The rows of `accounts` (a user queryset) that `actor` may change (may_change_account)."""
    return accounts if actor.is_superuser else accounts.filter(is_superuser=False)


def permissions_held_by(actor):
    """The permissions `actor` holds, directly or through a group: all that someone who is
    not a superuser may grant."""
    return Permission.objects.filter(Q(user=actor) | Q(group__user=actor)).distinct()


def may_change_group(actor, group) -> bool:
    """Someone who is not a superuser changes only a group whose every permission they hold:
    renamed to a Keycloak group path, a group with more would be handed to whoever Keycloak
    puts in that group at their next sign-in."""
    if actor.is_superuser:
        return True
    held = permissions_held_by(actor).values("pk")
    return not group.permissions.exclude(pk__in=held).exists()
