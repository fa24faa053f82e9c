"""Who may read the portal: the one place every portal page and API view is guarded."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse


def member_required(view=None, *, api: bool = False):
    """Let signed-in people through; send others to sign in (pages) or answer 401 (API).

    The single sign-on issue tightens this to approved members only.
    """

    def decorator(view_func):
        @wraps(view_func)
        def wrapped(request, *args, **kwargs):
            if request.user.is_authenticated:
                return view_func(request, *args, **kwargs)
            if api:
                return JsonResponse({"error": "authentication required"}, status=401)
            return redirect_to_login(request.get_full_path())

        return wrapped

    return decorator(view) if view is not None else decorator
