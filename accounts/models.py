"""People who use the portal, their membership state, and the audit log of who let them in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MembershipError(Exception):
    """A transition that the member's current state does not allow (e.g. rejecting a member
    who is already approved)."""


@dataclass(frozen=True)
class Transition:
    """One membership transition: the action's audit name, where it may start, where it ends."""

    action: str
    sources: tuple[str, ...]
    target: str
    reason_required: bool = False


@dataclass
class TransitionResult:
    """What a (bulk) transition did: the members it moved and the ones it could not."""

    changed: list[int]
    unchanged: list[int]  # already in the target state: a second click, or another admin won
    refused: list[int]  # in a state the transition does not start from


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
        moved: one locking SELECT, one UPDATE, one bulk INSERT of audit rows (plus one SELECT
        only when a concurrent writer took some of the rows in between).
        """
        reason = (reason or "").strip()
        if transition.reason_required and not reason:
            raise MembershipError(_("A reason is required."))
        ids = list(dict.fromkeys(ids))
        if not ids:
            return TransitionResult([], [], [])
        with transaction.atomic():
            # FOR UPDATE: on PostgreSQL a second admin approving the same member waits here
            # until the first commits, then sees `approved` and does nothing. SQLite ignores
            # it; there the UPDATE's state filter below is what keeps the claim single.
            current = dict(
                self.select_for_update().filter(pk__in=ids).values_list("pk", "membership")
            )
            candidates = [pk for pk in ids if current.get(pk) in transition.sources]
            unchanged = [pk for pk in ids if current.get(pk) == transition.target]
            refused = [pk for pk in ids if pk not in candidates and pk not in unchanged]
            changed: list[int] = []
            if candidates:
                # The change time doubles as a claim marker: microsecond-unique per call.
                now = timezone.now()
                count = self.filter(pk__in=candidates, membership__in=transition.sources).update(
                    membership=transition.target,
                    membership_changed_at=now,
                    membership_reason=reason,
                )
                if count == len(candidates):
                    changed = candidates
                else:  # someone else moved some of them between our SELECT and UPDATE
                    changed = list(
                        self.filter(
                            pk__in=candidates,
                            membership=transition.target,
                            membership_changed_at=now,
                        ).values_list("pk", flat=True)
                    )
                    unchanged += [pk for pk in candidates if pk not in changed]
                events = AuditEvent.objects.bulk_create(
                    AuditEvent(
                        actor=by,
                        actor_name=actor_name or (by.get_username() if by else ""),
                        action=transition.action,
                        target_id=pk,
                        reason=reason,
                        client_ip=ip,
                        automatic=automatic,
                    )
                    for pk in changed
                )
                if events:
                    from . import services  # services import models: import late

                    services.notify_members_after_commit(transition.action, changed, reason)
        return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)


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

    objects = PortalUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    @property
    def is_approved(self) -> bool:
        return self.membership == self.Membership.APPROVED

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


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One line of the append-only audit log: who did what to whom, when, why and from where.

    Rows are only ever inserted; `save()` on an existing row, `delete()` and queryset
    `update()`/`delete()` refuse. The actor's and target's names are kept as text as well,
    so the line still reads right after an account is renamed.
    """

    class Action(models.TextChoices):
        SIGN_UP = "sign_up", _("Signed up")
        APPROVE = "approve", _("Approved")
        REJECT = "reject", _("Rejected")
        SUSPEND = "suspend", _("Suspended")
        REINSTATE = "reinstate", _("Reinstated")

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events_done",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    automatic = models.BooleanField(
        _("automatic"), default=False, help_text=_("Done by a rule, not by a person.")
    )
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    target = models.ForeignKey(
        User,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    reason = models.TextField(_("reason"), blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["target", "-created_at"], name="audit_target_time")]

    def __str__(self) -> str:
        who = self.actor_name or (_("automatic rule") if self.automatic else _("system"))
        return f"{self.created_at:%Y-%m-%d %H:%M} {who} {self.action} {self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")


class OIDCSession(models.Model):
    """Which Django session belongs to which Keycloak session (`sid`) and subject (`sub`).

    Back-channel logout names a `sid` or a `sub`; this is how it finds the sessions to end.
    """

    session_key = models.CharField(max_length=40, unique=True)
    sid = models.CharField(max_length=255, blank=True, db_index=True)
    sub = models.CharField(max_length=255, db_index=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="oidc_sessions")
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
