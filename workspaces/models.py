"""Members' personal workspaces: the model, and the lifecycle every way in goes through.

The admin actions, the member's "My workspace" page, the `workspaces` command, the
membership receiver and the Celery tasks all call the manager's operations
(`Workspace.objects.provision(ids, …)`; the model's methods are single-workspace shortcuts).
Each operation

- is guarded on the current state (and, to provision or resume, on the owner being an
  approved member),
- claims its rows with one conditional UPDATE (aixops.transitions), so a second click, a
  second admin or a second delivery does nothing,
- writes one audit event per workspace it moved, in the member's audit log,
- queues the backend call as a Celery task through the outbox (aixops.outbox): written in
  the same transaction, sent once it commits or, if the broker is away, when it is back;
  the task id is stored on the workspace first (Flower's link works at once).

The worker's side, which calls the backends, is workspaces.services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from aixops.outbox import Job, queue_after_commit
from aixops.transitions import Transition, TransitionError, TransitionResult, claim
from audit.models import AuditEvent, record

Action = AuditEvent.Action
# The task that runs a queued operation on a worker (workspaces.tasks).
OPERATION_TASK = "workspaces.tasks.run_operation"
USAGE_TASK = "workspaces.tasks.measure_usage"


class WorkspaceError(TransitionError):
    """An operation the workspace's state does not allow."""


def default_quota_gib() -> int:
    return settings.WORKSPACE_DEFAULT_QUOTA_GIB


GIB = 1024**3
# Usage above the quota. The quota is an integer column: widened before multiplying, or
# PostgreSQL's int4 arithmetic overflows at 2 GiB.
_OVER_QUOTA = models.Q(usage_bytes__gt=Cast("quota_gib", models.BigIntegerField()) * GIB)
_OWNER_APPROVED = models.Q(owner__membership=User.Membership.APPROVED)
# Stopping and starting an active workspace's server never replace a queued operation (a
# resume that has not run yet, say).
_NOTHING_QUEUED = models.Q(operation="")


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

    def current_for(self, user) -> Workspace | None:
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


    # --- The lifecycle ---------------------------------------------------------------

    def _move(
        self,
        ids: Iterable[int],
        transition: Transition,
        operation: str,
        *,
        by: User | None,
        reason: str = "",
        ip: str | None = None,
        automatic: bool = False,
        actor_name: str = "",
        allowed: models.Q | None = None,
        changes: dict | None = None,
    ) -> TransitionResult:
        """Move workspaces through one transition and queue its backend call.

        Queries, whatever the number of workspaces: the claim's locking SELECT and UPDATE,
        one UPDATE of the task ids, one INSERT each of audit and outbox rows.
        """
        free = models.Q(operation_claimed_at__isnull=True)
        with transaction.atomic():
            result = claim(
                self,
                ids,
                transition,
                state="status",
                marker="updated_at",
                allowed=free & allowed if allowed is not None else free,
                changes={"operation": operation, "operation_claimed_at": None, **(changes or {})},
            )
            if result.changed:
                jobs = {pk: str(uuid.uuid4()) for pk in result.changed}
                self.bulk_update(
                    [Workspace(pk=pk, task_id=task_id) for pk, task_id in jobs.items()],
                    ["task_id"],
                )
                owners = dict(self.filter(pk__in=result.changed).values_list("pk", "owner_id"))
                record(
                    transition.action,
                    [(owners[pk], pk) for pk in result.changed],
                    by=by,
                    actor_name=actor_name,
                    reason=(reason or "").strip(),
                    ip=ip,
                    automatic=automatic,
                )
                queue_after_commit(
                    Job(OPERATION_TASK, [pk, operation], task_id) for pk, task_id in jobs.items()
                )
        return result

    def provision(self, ids: Iterable[int], **kwargs) -> TransitionResult:
        """requested → provisioning; the task makes it active (or failed)."""
        return self._move(ids, PROVISION, Op.PROVISION, allowed=_OWNER_APPROVED, **kwargs)

    def suspend(
        self, ids: Iterable[int], *, with_member: bool = False, **kwargs
    ) -> TransitionResult:
        """active → suspended; `with_member` marks the ones suspended because the member was."""
        changes = {"suspended_with_member": with_member}
        return self._move(ids, SUSPEND, Op.SUSPEND, changes=changes, **kwargs)

    def resume(self, ids: Iterable[int], **kwargs) -> TransitionResult:
        """suspended → active (the owner must be an approved member); resuming starts it."""
        changes = {"suspended_with_member": False, "idle_stopped_at": None}
        return self._move(
            ids, RESUME, Op.RESUME, allowed=_OWNER_APPROVED, changes=changes, **kwargs
        )

    def stop_idle(self, ids: Iterable[int], **kwargs) -> TransitionResult:
        """An active workspace's server stopped by the idle policy; it stays active."""
        return self._move(
            ids,
            IDLE_STOP,
            Op.STOP,
            allowed=models.Q(idle_stopped_at__isnull=True) & _NOTHING_QUEUED,
            changes={"idle_stopped_at": timezone.now()},
            **kwargs,
        )

    def start(self, ids: Iterable[int], **kwargs) -> TransitionResult:
        """The server of an idle-stopped workspace started again (an approved owner's)."""
        return self._move(
            ids,
            START,
            Op.START,
            allowed=models.Q(idle_stopped_at__isnull=False) & _OWNER_APPROVED & _NOTHING_QUEUED,
            changes={"idle_stopped_at": None},
            **kwargs,
        )

    def delete_workspaces(self, ids: Iterable[int], **kwargs) -> TransitionResult:
        """→ deleting; the task archives and removes it, then marks it deleted.

        Not `delete()`: that would be Django's row deletion, which workspaces never see."""
        return self._move(ids, DELETE, Op.DELETE, **kwargs)

    def retry(self, ids: Iterable[int], **kwargs) -> TransitionResult:
        """failed → the state its failed operation runs in, and that operation queued again."""
        ids = list(dict.fromkeys(ids))
        changed: list[int] = []
        for operation, status in RUNS_IN.items():
            again = Transition(Action.WORKSPACE_RETRY, (Status.FAILED,), status)
            changed += self._move(
                ids, again, operation, allowed=models.Q(operation=operation), **kwargs
            ).changed
        unchanged = list(
            self.filter(pk__in=ids, operation="")
            .exclude(pk__in=changed)
            .exclude(status=Status.FAILED)
            .values_list("pk", flat=True)
        )
        refused = [pk for pk in ids if pk not in changed and pk not in unchanged]
        return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)

    def change_quota(
        self,
        ids: Iterable[int],
        *,
        quota_gib: int,
        cpu_limit: Decimal | None = None,
        memory_mib: int | None = None,
        by: User | None,
        reason: str = "",
        ip: str | None = None,
        actor_name: str = "",
    ) -> TransitionResult:
        """Set the quota (and CPU/memory limits) of every live workspace given; the usage
        is measured again so the over-quota warning follows the new figure at once."""
        if quota_gib < 1:
            raise WorkspaceError(_("The quota must be at least 1 GiB."))
        ids = list(dict.fromkeys(ids))
        with transaction.atomic():
            rows = {
                pk: (owner_id, quota, status)
                for pk, owner_id, quota, status in self.select_for_update()
                .filter(pk__in=ids)
                .live()
                .values_list("pk", "owner_id", "quota_gib", "status")
            }
            changed = [pk for pk in ids if pk in rows]
            self.filter(pk__in=changed).update(
                quota_gib=quota_gib,
                cpu_limit=cpu_limit,
                memory_mib=memory_mib,
                updated_at=timezone.now(),
            )
            reason = (reason or "").strip()
            for pk in changed:
                note = f"{rows[pk][1]} → {quota_gib} GiB"
                record(
                    Action.WORKSPACE_QUOTA,
                    [(rows[pk][0], pk)],
                    by=by,
                    actor_name=actor_name,
                    reason=f"{note}; {reason}" if reason else note,
                    ip=ip,
                )
            queue_after_commit(
                Job(USAGE_TASK, [pk])
                for pk in changed
                if rows[pk][2] in (Status.ACTIVE, Status.SUSPENDED)
            )
        refused = [pk for pk in ids if pk not in changed]
        return TransitionResult(changed=changed, unchanged=[], refused=refused)

    def request(
        self,
        user_ids: Iterable[int],
        *,
        by: User | None,
        reason: str = "",
        ip: str | None = None,
        automatic: bool = False,
        actor_name: str = "",
    ) -> TransitionResult:
        """A new `requested` workspace for each approved member without a live one.

        The result lists user ids: changed (requested now), unchanged (they have one),
        refused (not an approved member). With WORKSPACE_AUTO_PROVISION the new workspaces
        are provisioned at once, in the same transaction.
        """
        user_ids = list(dict.fromkeys(user_ids))
        if not user_ids:
            return TransitionResult.nothing()
        with transaction.atomic():
            # Locking the members serialises two requests for the same member (a double
            # click); the partial unique constraint is the last line if anything slips by.
            approved = set(
                User.objects.select_for_update()
                .filter(pk__in=user_ids, membership=User.Membership.APPROVED)
                .values_list("pk", flat=True)
            )
            having = set(
                self.live().filter(owner_id__in=user_ids).values_list("owner_id", flat=True)
            )
            changed = [pk for pk in user_ids if pk in approved and pk not in having]
            unchanged = [pk for pk in user_ids if pk in having]
            refused = [pk for pk in user_ids if pk not in changed and pk not in unchanged]
            if changed:
                created = self.bulk_create(
                    Workspace(owner_id=pk, backend=settings.WORKSPACE_BACKEND) for pk in changed
                )
                record(
                    Action.WORKSPACE_REQUEST,
                    [(w.owner_id, w.pk) for w in created],
                    by=by,
                    actor_name=actor_name,
                    reason=(reason or "").strip(),
                    ip=ip,
                    automatic=automatic,
                )
                if settings.WORKSPACE_AUTO_PROVISION:
                    self.provision(
                        [w.pk for w in created],
                        by=None,
                        reason="WORKSPACE_AUTO_PROVISION",
                        automatic=True,
                    )
        return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)


class Workspace(models.Model):
    """A member's personal workspace, made real by the backend named in `backend`.

    Lifecycle: requested → provisioning → active ⇄ suspended; any → failed (with the error,
    retryable); → deleting → deleted. An active workspace's server may be stopped while idle
    (`idle_stopped_at`) and started again, staying active. The rules are the manager's operations
    (`Workspace.objects.provision(ids, ...)` …); the methods here are single-workspace
    shortcuts to them.

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
        STOP = "stop", _("stop (idle)")
        START = "start", _("start")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="workspaces",
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
    last_activity = models.DateTimeField(
        _("last activity"), null=True, blank=True, help_text=_("As the backend last reported it.")
    )
    operation = models.CharField(
        _("operation"), max_length=16, choices=Operation.choices, blank=True, default=""
    )
    operation_claimed_at = models.DateTimeField(_("operation started"), null=True, blank=True)
    task_id = models.CharField(_("last task id"), max_length=255, blank=True)
    # Suspended because the member was: reinstating the member resumes only these, not
    # a workspace an admin suspended for its own reasons.
    suspended_with_member = models.BooleanField(default=False)
    # An active workspace whose server the idle policy stopped (a flag, not a status: the
    # workspace is the member's to use, and every rule of `active` holds); the member
    # starts it again.
    idle_stopped_at = models.DateTimeField(_("stopped (idle) at"), null=True, blank=True)
    drift = models.CharField(
        _("drift"),
        max_length=300,
        blank=True,
        help_text=_("What the backend shows that the portal does not expect, as last found."),
    )

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

    def _run(self, operation, **kwargs) -> bool:
        result = operation([self.pk], **kwargs)
        self.refresh_from_db()
        if result.refused:
            raise WorkspaceError(
                _("The workspace is %(state)s; cannot %(action)s.")
                % {"state": self.status, "action": operation.__name__}
            )
        return bool(result.changed)

    def provision(self, *, by: User | None, **kwargs) -> bool:
        """requested → provisioning, then active once the backend made it."""
        return self._run(Workspace.objects.provision, by=by, **kwargs)

    def suspend(self, *, by: User | None, **kwargs) -> bool:
        """active → suspended (read-only, stopped …)."""
        return self._run(Workspace.objects.suspend, by=by, **kwargs)

    def resume(self, *, by: User | None, **kwargs) -> bool:
        """suspended → active."""
        return self._run(Workspace.objects.resume, by=by, **kwargs)

    def delete_workspace(self, *, by: User | None, **kwargs) -> bool:
        """→ deleting, then deleted once the backend archived and removed it."""
        return self._run(Workspace.objects.delete_workspaces, by=by, **kwargs)

    def start(self, *, by: User | None, **kwargs) -> bool:
        """Start the server the idle policy stopped."""
        return self._run(Workspace.objects.start, by=by, **kwargs)

    def retry(self, *, by: User | None, **kwargs) -> bool:
        """failed → the failed operation, run again."""
        return self._run(Workspace.objects.retry, by=by, **kwargs)

    def change_quota(self, *, by: User | None, quota_gib: int, **kwargs) -> bool:
        """A new quota (and CPU/memory limits, for backends that use them)."""
        return self._run(Workspace.objects.change_quota, by=by, quota_gib=quota_gib, **kwargs)


Status = Workspace.Status
Op = Workspace.Operation

PROVISION = Transition(
    Action.WORKSPACE_PROVISION,
    (Status.REQUESTED,),
    Status.PROVISIONING,
    done=(Status.PROVISIONING, Status.ACTIVE),
)
SUSPEND = Transition(Action.WORKSPACE_SUSPEND, (Status.ACTIVE,), Status.SUSPENDED)
RESUME = Transition(Action.WORKSPACE_RESUME, (Status.SUSPENDED,), Status.ACTIVE)
# Both keep the workspace active: the idle flag (idle_stopped_at) is what they change.
IDLE_STOP = Transition(Action.WORKSPACE_IDLE_STOP, (Status.ACTIVE,), Status.ACTIVE)
START = Transition(Action.WORKSPACE_START, (Status.ACTIVE,), Status.ACTIVE)
DELETE = Transition(
    Action.WORKSPACE_DELETE,
    (Status.REQUESTED, Status.ACTIVE, Status.SUSPENDED, Status.FAILED),
    Status.DELETING,
    done=(Status.DELETING, Status.DELETED),
)
# The state a queued (or retried) backend call runs in, and the state its success ends in.
RUNS_IN = {
    Op.PROVISION: Status.PROVISIONING,
    Op.SUSPEND: Status.SUSPENDED,
    Op.RESUME: Status.ACTIVE,
    Op.DELETE: Status.DELETING,
    Op.STOP: Status.ACTIVE,
    Op.START: Status.ACTIVE,
}
ENDS_IN = {
    Op.PROVISION: Status.ACTIVE,
    Op.SUSPEND: Status.SUSPENDED,
    Op.RESUME: Status.ACTIVE,
    Op.DELETE: Status.DELETED,
    Op.STOP: Status.ACTIVE,
    Op.START: Status.ACTIVE,
}
