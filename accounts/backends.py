"""How a session finds its user again, for local accounts and Keycloak ones alike."""

from django.contrib.auth.backends import ModelBackend

from .models import User


class SessionUserMixin:
    """Loads the signed-in user afresh on every request, and only an active one.

    Both backends read the user the same way, so a suspension (membership, read from this
    row) or a deactivated account takes effect at the next page whichever way they signed in.
    """

    def get_user(self, user_id):
        try:
            user = User.objects.filter(pk=int(user_id)).first()
        except (TypeError, ValueError):  # a session that names no user id at all
            return None
        return user if user is not None and user.is_active else None


class LocalAccountBackend(SessionUserMixin, ModelBackend):
    """Username and password: the break-glass admin and, without Keycloak, everybody."""
