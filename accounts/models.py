"""People who use the portal, their membership state, and the audit log of who let them in."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aixops.queries import PreparedLookup

audit_logger = logging.getLogger("aixops.audit")


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


# Every page view reads the signed-in user: compiled once (see PreparedLookup).
_user_by_pk = PreparedLookup(lambda pk: User.objects.filter(pk=pk).order_by(), 0)


class PortalUserManager(UserManager):
    """Creates users; superusers and users created as superusers are approved at once."""

    def create_user(self, username, email=None, password=None, **extra_fields):
        if extra_fields.get("is_superuser"):
            extra_fields.setdefault("membership", User.Membership.APPROVED)
        return super().create_user(username, email, password, **extra_fields)

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("membership", User.Membership.APPROVED)
        return super().create_superuser(username, email, password, **extra_fields)

    def signed_in(self, pk) -> User | None:
        """The user a session names, read afresh on every request so that a suspension or
        a sign-out elsewhere takes effect at the next page."""
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        return _user_by_pk.first(pk, using=self.db)

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
        only when a concurrent writer took some of the rows in between), then what follows
        in the same transaction: the notices' outbox row and the workspaces' own fixed
        count (accounts.workspaces.follow_membership).
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
                    # They import this module: imported late. Both write in this
                    # transaction, so the change and what follows it commit together.
                    from . import services, workspaces

                    services.queue_member_notices(transition.action, changed, reason)
                    workspaces.follow_membership(transition.action, changed, by=by, ip=ip)
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


class AuditEventQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        events = super().bulk_create(objs, *args, **kwargs)
        for event in events:
            event.log()
        return events

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
        WORKSPACE_REQUEST = "workspace.request", _("Workspace requested")
        WORKSPACE_PROVISION = "workspace.provision", _("Workspace provisioning")
        WORKSPACE_READY = "workspace.ready", _("Workspace ready")
        WORKSPACE_SUSPEND = "workspace.suspend", _("Workspace suspended")
        WORKSPACE_RESUME = "workspace.resume", _("Workspace resumed")
        WORKSPACE_QUOTA = "workspace.quota", _("Workspace quota changed")
        WORKSPACE_DELETE = "workspace.delete", _("Workspace deleting")
        WORKSPACE_DELETED = "workspace.deleted", _("Workspace deleted")
        WORKSPACE_FAILED = "workspace.failed", _("Workspace failed")
        WORKSPACE_RETRY = "workspace.retry", _("Workspace retried")

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
    # The member stays the target of workspace events too; this says which of their
    # workspaces (a member may have had several, deleted ones are kept) it was about.
    workspace = models.ForeignKey(
        "Workspace",
        verbose_name=_("workspace"),
        null=True,
        blank=True,
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
        self.log()

    def log(self) -> None:
        """Every audit event is also a log line, for the log shipper and its alerts."""
        audit_logger.info(
            "audit %s",
            self.action,
            extra={
                "audit_action": self.action,
                "audit_actor": self.actor_name or ("automatic" if self.automatic else "system"),
                "audit_target_id": self.target_id,
                "audit_workspace_id": self.workspace_id,
                "audit_reason": self.reason,
                "audit_client_ip": self.client_ip,
            },
        )

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")


def default_quota_gib() -> int:
    return settings.WORKSPACE_DEFAULT_QUOTA_GIB


GIB = 1024**3
# Usage above the quota. The quota is an integer column: widened before multiplying, or
# PostgreSQL's int4 arithmetic overflows at 2 GiB.
_OVER_QUOTA = models.Q(usage_bytes__gt=Cast("quota_gib", models.BigIntegerField()) * GIB)


class WorkspaceQuerySet(models.QuerySet):
    def live(self):
        """Every workspace but the deleted ones (kept for the audit)."""
        return self.exclude(status=Workspace.Status.DELETED)

    def over_quota(self):
        return self.filter(_OVER_QUOTA)

    def needing_attention(self) -> dict[str, int]:
        """How many workspaces wait for an admin, failed, or are over quota: one query."""
        return self.aggregate(
            requested=models.Count("pk", filter=models.Q(status=Workspace.Status.REQUESTED)),
            failed=models.Count("pk", filter=models.Q(status=Workspace.Status.FAILED)),
            over_quota=models.Count("pk", filter=_OVER_QUOTA),
        )

    def current_for(self, user: User) -> Workspace | None:
        """The member's live workspace, else their most recent deleted one, else None."""
        return (
            self.filter(owner=user)
            .order_by(
                models.Case(models.When(status=Workspace.Status.DELETED, then=1), default=0),
                "-created_at",
                "-id",
            )
            .first()
        )


class Workspace(models.Model):
    """A member's personal workspace, made real by the backend named in `backend`.

    Lifecycle: requested → provisioning → active ⇄ suspended; any → failed (with the error,
    retryable); → deleting → deleted. The rules live in `accounts.workspaces`; the methods
    here are its single-workspace shortcuts.

    One live workspace per member: `owner` is a foreign key with a partial unique
    constraint on the rows that are not deleted, rather than a one-to-one field. Deleted
    workspaces stay as they were (their archive, their audit trail) and a member whose
    workspace was deleted can request a fresh row.

    `operation` is the backend call queued or running (or the one that failed, which a
    retry runs again); `operation_claimed_at` is set by the one worker that claimed it.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        PROVISIONING = "provisioning", _("Provisioning")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        FAILED = "failed", _("Failed")
        DELETING = "deleting", _("Deleting")
        DELETED = "deleted", _("Deleted")

    class Operation(models.TextChoices):
        NONE = "", _("none")
        PROVISION = "provision", _("provision")
        SUSPEND = "suspend", _("suspend")
        RESUME = "resume", _("resume")
        DELETE = "delete", _("delete")

    owner = models.ForeignKey(
        User, verbose_name=_("member"), on_delete=models.PROTECT, related_name="workspaces"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    backend = models.CharField(_("backend"), max_length=32)
    location = models.CharField(
        _("location"), max_length=500, blank=True, help_text=_("Where to open it: a path or URL.")
    )
    archive = models.CharField(
        _("archive"), max_length=500, blank=True, help_text=_("What the deletion kept.")
    )
    quota_gib = models.PositiveIntegerField(_("storage quota (GiB)"), default=default_quota_gib)
    cpu_limit = models.DecimalField(
        _("CPU limit (cores)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    memory_mib = models.PositiveIntegerField(_("memory limit (MiB)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    usage_bytes = models.PositiveBigIntegerField(_("usage (bytes)"), null=True, blank=True)
    usage_files = models.PositiveIntegerField(_("files"), null=True, blank=True)
    usage_measured_at = models.DateTimeField(_("usage measured"), null=True, blank=True)
    operation = models.CharField(
        _("operation"), max_length=16, choices=Operation.choices, blank=True, default=""
    )
    operation_claimed_at = models.DateTimeField(_("operation started"), null=True, blank=True)
    task_id = models.CharField(_("last task id"), max_length=255, blank=True)
    # Suspended because the member was: reinstating the member resumes only these, not
    # a workspace an admin suspended for its own reasons.
    suspended_with_member = models.BooleanField(default=False)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=~models.Q(status="deleted"),
                name="workspace_one_live_per_member",
            ),
        ]
        indexes = [models.Index(fields=["status"], name="workspace_status")]

    def __str__(self) -> str:
        return f"{self.owner}: {self.status}"

    @property
    def quota_bytes(self) -> int:
        return self.quota_gib * GIB

    @property
    def is_over_quota(self) -> bool:
        return self.usage_bytes is not None and self.usage_bytes > self.quota_bytes

    @property
    def usage_percent(self) -> int | None:
        if self.usage_bytes is None:
            return None
        return round(100 * self.usage_bytes / self.quota_bytes)

    @property
    def location_is_url(self) -> bool:
        return self.location.startswith(("https://", "http://"))

    def spec(self):
        """What the backend is told about this workspace."""
        from .workspace_backends import WorkspaceSpec

        return WorkspaceSpec(
            workspace_id=self.pk,
            username=self.owner.username,
            quota_gib=self.quota_gib,
            cpu_limit=float(self.cpu_limit) if self.cpu_limit is not None else None,
            memory_mib=self.memory_mib,
        )

    def _run(self, name: str, **kwargs) -> bool:
        from . import workspaces

        result = getattr(workspaces, name)([self.pk], **kwargs)
        self.refresh_from_db()
        if result.refused:
            raise workspaces.WorkspaceError(
                _("The workspace is %(state)s; cannot %(action)s.")
                % {"state": self.status, "action": name}
            )
        return bool(result.changed)

    def provision(self, *, by: User | None, **kwargs) -> bool:
        """requested → provisioning, then active once the backend made it."""
        return self._run("provision", by=by, **kwargs)

    def suspend(self, *, by: User | None, **kwargs) -> bool:
        """active → suspended (read-only, stopped …)."""
        return self._run("suspend", by=by, **kwargs)

    def resume(self, *, by: User | None, **kwargs) -> bool:
        """suspended → active."""
        return self._run("resume", by=by, **kwargs)

    def delete_workspace(self, *, by: User | None, **kwargs) -> bool:
        """→ deleting, then deleted once the backend archived and removed it.

        Not `delete()`: that would be Django's row deletion, which workspaces never see."""
        return self._run("delete", by=by, **kwargs)

    def retry(self, *, by: User | None, **kwargs) -> bool:
        """failed → the failed operation, run again."""
        return self._run("retry", by=by, **kwargs)

    def change_quota(self, *, by: User | None, quota_gib: int, **kwargs) -> bool:
        """A new quota (and CPU/memory limits, for backends that use them)."""
        return self._run("change_quota", by=by, quota_gib=quota_gib, **kwargs)


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

    @classmethod
    def prune(cls, *, now=None) -> int:
        """Forget the `jti`s of tokens too old to be accepted anyway (their `iat` check
        refuses them), so the table stays small; returns how many were forgotten."""
        now = now or timezone.now()
        horizon = settings.OIDC_LOGOUT_TOKEN_MAX_AGE + settings.OIDC_LEEWAY
        deleted, _ = cls.objects.filter(seen_at__lt=now - timedelta(seconds=horizon)).delete()
        return deleted


class OutboxTask(models.Model):
    """A Celery task to send once the transaction that wrote it commits: the outbox.

    Work that follows a change (an e-mail, a workspace operation) is written here in the
    change's own transaction, so it is neither lost nor half-done when the broker is
    away: the commit sends it at once, and the `outbox` beat task sends whatever is still
    waiting (accounts.outbox). `task_id` is the id the task goes out with; a task that
    must not run twice (an e-mail) marks `started_at` through it, so a second delivery of
    the same message does nothing. The row knows nothing about the task it carries.
    """

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list)
    task_id = models.CharField(_("task id"), max_length=255, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Held by the one sender handing the task to the broker (see accounts.outbox.send).
    claimed_at = models.DateTimeField(_("being sent since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts to send"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox task")
        verbose_name_plural = _("outbox tasks")
        indexes = [models.Index(fields=["sent_at"], name="outbox_sent")]

    def __str__(self) -> str:
        return f"{self.task} {self.task_id}"
