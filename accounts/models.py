"""People who use the portal and their membership (who may come in, and who let them), and
the Keycloak sessions they sign in with (accounts.oidc)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aixops.outbox import Job, queue_after_commit
from aixops.transitions import Transition, TransitionError, TransitionResult, claim
from audit.models import AuditEvent, record

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


class ApiTokenError(Exception):
    """A token that cannot be made as asked (a name missing or taken, too many tokens, an
    expiry out of range); the message says why, in the reader's language."""


class ApiTokenQuerySet(models.QuerySet):
    def issue(
        self,
        *,
        owner: User,
        name: str,
        expires_in_days: int | None = None,
        by: User | None,
        ip: str | None = None,
        actor_name: str = "",
    ) -> tuple[ApiToken, str]:
        """Make a token for `owner` and return it with its secret, which is never stored
        and so can be shown only now. Audited; a second submit of the same name is refused
        (one live token per name and owner), so a double click makes one token."""
        name = (name or "").strip()
        if not name or len(name) > ApiToken.NAME_MAX_LENGTH:
            raise ApiTokenError(
                _("Give the token a name of 1 to %(max)d characters.")
                % {"max": ApiToken.NAME_MAX_LENGTH}
            )
        if expires_in_days is not None and not 1 <= expires_in_days <= ApiToken.MAX_DAYS:
            raise ApiTokenError(
                _("A token expires after 1 to %(max)d days.") % {"max": ApiToken.MAX_DAYS}
            )
        live = self.filter(owner=owner, revoked_at__isnull=True)
        if live.count() >= ApiToken.MAX_LIVE_PER_OWNER:
            raise ApiTokenError(
                _("You have %(max)d tokens; revoke one you no longer use first.")
                % {"max": ApiToken.MAX_LIVE_PER_OWNER}
            )
        secret = ApiToken.SECRET_PREFIX + secrets.token_urlsafe(32)
        now = timezone.now()
        expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            with transaction.atomic():
                token = self.create(
                    owner=owner,
                    name=name,
                    prefix=secret[: ApiToken.PREFIX_LENGTH],
                    digest=ApiToken.digest_of(secret),
                    created_at=now,
                    expires_at=expires_at,
                )
                token.audit(AuditEvent.Action.TOKEN_CREATE, by=by, ip=ip, actor_name=actor_name)
        except IntegrityError:
            raise ApiTokenError(
                _("You already have a token named %(name)s.") % {"name": name}
            ) from None
        return token, secret


class ApiToken(models.Model):
    """A member's personal API token: a script sends it as `Authorization: Bearer <token>`
    and acts as its owner, with the owner's access (accounts.access), for as long as the
    token is neither revoked nor expired.

    Only the SHA-256 of the secret is kept (the secret is random, 256 bits, so a slow hash
    would add nothing), and a short prefix of it that people recognise their token by.
    """

    SECRET_PREFIX = "aix_"  # noqa: S105  (tells a leaked secret apart to secret scanners)
    SECRET_SHAPE = re.compile(r"aix_[A-Za-z0-9_-]{43}")  # the prefix and 32 random bytes
    PREFIX_LENGTH = 12  # "aix_" and 8 characters of the random part
    NAME_MAX_LENGTH = 100
    MAX_DAYS = 3650
    MAX_LIVE_PER_OWNER = 20

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH)
    digest = models.CharField(_("SHA-256 of the secret"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="api_token_live_name_unique_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"

    def is_usable(self, *, now=None) -> bool:
        """Neither revoked nor expired: the token still lets a script in."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def describe(self) -> str:
        """How the audit log names the token: its prefix and name, never the secret."""
        return f"API token {self.prefix}… {self.name!r}"

    def audit(self, action: str, *, by: User | None, ip: str | None, actor_name: str) -> None:
        """Write `action` on this token to the owner's audit trail, naming the token by
        its prefix and name (describe()), never its secret."""
        record(action, [self.owner_id], by=by, actor_name=actor_name, reason=self.describe(), ip=ip)

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def revoke(self, *, by: User | None, ip: str | None = None, actor_name: str = "") -> bool:
        """Stop the token working, at once. True if this call revoked it, False if it was
        revoked already (a second click, another admin): audited once."""
        with transaction.atomic():
            now = timezone.now()
            changed = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=now
            )
            if changed:
                self.audit(AuditEvent.Action.TOKEN_REVOKE, by=by, ip=ip, actor_name=actor_name)
        self.refresh_from_db(fields=["revoked_at"])
        return bool(changed)
