"""Who may read the portal: the one place every portal page and API view is guarded; and
whom staff may change in the admin UI, and what they may grant."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import render


def member_required(view=None, *, api: bool = False):
    """Let approved members through. Others never get data:

    - anonymous visitors are sent to sign in (pages) or get a JSON 401 (API);
    - pending, rejected and suspended members get a page that says so, or a JSON 403.

    The membership state is a field on the user row, so this costs no query beyond loading
    the signed-in user.
    """

    def decorator(view_func):
        @wraps(view_func)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                if api:
                    return JsonResponse({"error": "authentication required"}, status=401)
                return redirect_to_login(request.get_full_path())
            if user.is_approved:
                return view_func(request, *args, **kwargs)
            if api:
                return JsonResponse(
                    {"error": "membership not approved", "membership": user.membership},
                    status=403,
                )
            return membership_page(request)

        return wrapped

    return decorator(view) if view is not None else decorator


def membership_page(request):
    """The waiting page (pending) or the rejected / suspended page, answered with 403."""
    return render(
        request,
        f"accounts/membership_{request.user.membership}.html",
        {"contact": settings.MEMBER_APPROVAL_CONTACT},
        status=403,
    )


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
