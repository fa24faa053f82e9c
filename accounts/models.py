"""People who use the portal."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A portal user, keyed to the identity provider's subject (`sub`), never to the e-mail.

    Local accounts (the embedded admin, break-glass superusers) have no subject.
    """

    oidc_subject = models.CharField(
        _("OIDC subject"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The `sub` claim from Keycloak; empty for local accounts."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username
