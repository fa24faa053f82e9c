"""How a session finds its user again, for local accounts and Keycloak ones alike."""

from django.contrib.auth.backends import ModelBackend

from .models import User


class SessionUserMixin:
    """Loads the signed-in user with `User.objects.signed_in`, once per request.

    Both backends read the user the same way, so a deactivated account is signed out
    whichever way it signed in.
    """

    def get_user(self, user_id):
        user = User.objects.signed_in(user_id)
        return user if user is not None and user.is_active else None


class LocalAccountBackend(SessionUserMixin, ModelBackend):
    """Username and password: the break-glass admin and, without Keycloak, everybody."""
