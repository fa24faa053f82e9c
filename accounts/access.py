"""Who may read the portal: the one place every portal page and API view is guarded."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
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
    from django.conf import settings

    return render(
        request,
        f"accounts/membership_{request.user.membership}.html",
        {"contact": settings.MEMBER_APPROVAL_CONTACT},
        status=403,
    )
