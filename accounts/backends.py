"""How a session finds its user again, for local accounts and Keycloak ones alike."""

from django.contrib.auth.backends import ModelBackend

from .models import User


class SessionUserMixin:
    """Loads the signed-in user afresh on every request, and only an active one.

    Both backends read the user the same way, so a suspension (membership, read from this
    row) or a deactivated account takes effect at the next page whichever way they signed in.
    """

    def get_user(self, user_id):
        # get(), not filter().first(): no ORDER BY to build on every request.
        try:
            user = User.objects.get(pk=int(user_id))
        except (TypeError, ValueError):  # a session that names no user id at all
            return None
        except User.DoesNotExist:
            return None
        return user if user.is_active else None


class LocalAccountBackend(SessionUserMixin, ModelBackend):
    """Username and password: the break-glass admin and, without Keycloak, everybody."""
