"""People who use the portal and their membership (who may come in, and who let them), and
the Keycloak sessions they sign in with (accounts.oidc)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aixops.outbox import Job, queue_after_commit
from aixops.transitions import Transition, TransitionError, TransitionResult, claim
from audit.models import record

from .signals import membership_changed

# Members told of a decision about them, by e-mail (accounts.tasks.notify_members).
NOTIFIED_ACTIONS = ("approve", "reject")


class MembershipError(TransitionError):
    """A transition that the member's current state does not allow (e.g. rejecting a member
    who is already approved)."""


class PortalUserManager(UserManager):
    """Creates users; superusers and users created as superusers are approved at once."""

    def create_user(self, username, email=None, password=None, **extra_fields):
        if extra_fields.get("is_superuser"):
            extra_fields.setdefault("membership", User.Membership.APPROVED)
        return super().create_user(username, email, password, **extra_fields)

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("membership", User.Membership.APPROVED)
        return super().create_superuser(username, email, password, **extra_fields)

    def transition(
        self,
        ids: Iterable[int],
        transition: Transition,
        *,
        by: User | None,
        reason: str = "",
        ip: str | None = None,
        automatic: bool = False,
        actor_name: str = "",
    ) -> TransitionResult:
        """Move the given members through one transition; the single place of truth.

        The single-member methods (`User.approve()` …), the admin actions and the `members`
        command all end up here. The query count does not depend on how many members are
        moved: the claim (aixops.transitions), one INSERT of audit rows, the notices'
        outbox row, and what the receivers of `membership_changed` write in the same
        transaction (workspaces, in their own fixed count).
        """
        reason = (reason or "").strip()
        if transition.reason_required and not reason:
            raise MembershipError(_("A reason is required."))
        with transaction.atomic():
            result = claim(
                self,
                ids,
                transition,
                state="membership",
                marker="membership_changed_at",
                changes={"membership_reason": reason},
            )
            if result.changed:
                record(
                    transition.action,
                    result.changed,
                    by=by,
                    actor_name=actor_name,
                    reason=reason,
                    ip=ip,
                    automatic=automatic,
                )
                if transition.action in NOTIFIED_ACTIONS:
                    notice = [transition.action, result.changed, reason]
                    queue_after_commit([Job("accounts.tasks.notify_members", notice)])
                membership_changed.send(
                    sender=User, action=transition.action, ids=result.changed, by=by, ip=ip
                )
        return result


class User(AbstractUser):
    """A portal user, keyed to the identity provider's subject (`sub`), never to the e-mail.

    Local accounts (the embedded admin, break-glass superusers) have no subject. Whether the
    person may use the portal is `membership`, a field on this row so that checking it costs
    no query beyond loading the signed-in user.
    """

    class Membership(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SUSPENDED = "suspended", _("Suspended")

    APPROVE = Transition("approve", (Membership.PENDING,), Membership.APPROVED)
    REJECT = Transition("reject", (Membership.PENDING,), Membership.REJECTED, reason_required=True)
    SUSPEND = Transition("suspend", (Membership.APPROVED,), Membership.SUSPENDED)
    REINSTATE = Transition("reinstate", (Membership.SUSPENDED,), Membership.APPROVED)

    oidc_subject = models.CharField(
        _("OIDC subject"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The `sub` claim from Keycloak; empty for local accounts."),
    )
    membership = models.CharField(
        _("membership"),
        max_length=16,
        choices=Membership.choices,
        default=Membership.PENDING,
        db_index=True,
        help_text=_("Only approved members see the portal."),
    )
    membership_changed_at = models.DateTimeField(_("membership changed"), null=True, blank=True)
    membership_reason = models.TextField(_("reason"), blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_(
            "The language of the portal's e-mail to this person: Keycloak's locale at "
            "sign-in, or their pick in the portal's language switch. Empty: LANGUAGE_CODE."
        ),
    )

    objects = PortalUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]
        indexes = [
            # The pending queue (accounts.admin.PendingMemberAdmin), oldest first, a page at
            # a time: read in index order, never sorted. On PostgreSQL the searched columns
            # have trigram indexes too (migration 0006).
            models.Index(
                fields=["date_joined", "id"],
                condition=models.Q(membership="pending"),
                name="user_pending_queue",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_approved(self) -> bool:
        return self.membership == self.Membership.APPROVED

    @property
    def email_language(self) -> str:
        """The language to write to this person in."""
        return self.language or settings.LANGUAGE_CODE

    def _move(self, transition: Transition, **kwargs) -> bool:
        result = User.objects.transition([self.pk], transition, **kwargs)
        self.refresh_from_db(fields=["membership", "membership_changed_at", "membership_reason"])
        if result.refused:
            raise MembershipError(
                _("%(user)s is %(state)s; cannot %(action)s.")
                % {"user": self, "state": self.membership, "action": transition.action}
            )
        return bool(result.changed)

    def approve(
        self, *, by: User | None, reason: str = "", ip: str | None = None, automatic: bool = False
    ) -> bool:
        """pending → approved. True if this call made the change, False if already approved."""
        return self._move(self.APPROVE, by=by, reason=reason, ip=ip, automatic=automatic)

    def reject(self, *, by: User | None, reason: str, ip: str | None = None) -> bool:
        """pending → rejected, with a reason the member is told."""
        return self._move(self.REJECT, by=by, reason=reason, ip=ip)

    def suspend(self, *, by: User | None, reason: str = "", ip: str | None = None) -> bool:
        """approved → suspended."""
        return self._move(self.SUSPEND, by=by, reason=reason, ip=ip)

    def reinstate(self, *, by: User | None, reason: str = "", ip: str | None = None) -> bool:
        """suspended → approved."""
        return self._move(self.REINSTATE, by=by, reason=reason, ip=ip)


class PendingMember(User):
    """The admin's pending-members queue: the same rows as User, only those waiting."""

    class Meta:
        proxy = True
        verbose_name = _("pending member")
        verbose_name_plural = _("pending members")


class OIDCSession(models.Model):
    """Which Django session belongs to which Keycloak session (`sid`) and subject (`sub`).

    Back-channel logout names a `sid` or a `sub`; this is how it finds the sessions to end.
    """

    session_key = models.CharField(max_length=40, unique=True)
    sid = models.CharField(max_length=255, blank=True, db_index=True)
    sub = models.CharField(max_length=255, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_sessions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.sub} {self.sid}"


class LogoutTokenUse(models.Model):
    """A back-channel logout token's `jti`, remembered so a replayed token is refused."""

    jti = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.jti

    @classmethod
    def prune(cls, *, now=None) -> int:
        """Forget the `jti`s of tokens too old to be accepted anyway (their `iat` check
        refuses them), so the table stays small; returns how many were forgotten."""
        now = now or timezone.now()
        horizon = settings.OIDC_LOGOUT_TOKEN_MAX_AGE + settings.OIDC_LEEWAY
        deleted, _ = cls.objects.filter(seen_at__lt=now - timedelta(seconds=horizon)).delete()
        return deleted
