"""Workspace operations: the one place of truth for every workspace change.

The admin actions, the member's "My workspace" page, the `workspaces` command, the
membership coupling and the Celery tasks all call these functions (the model's methods
are single-workspace shortcuts to them). Each operation

- is guarded on the current state (and, to provision or resume, on the owner being an
  approved member),
- claims its rows with a conditional UPDATE and counts them, so a second click, a second
  admin or a second delivery does nothing,
- writes one audit event per workspace it moved, in the members' audit log,
- queues the backend call as a Celery task through the outbox (accounts.outbox): written
  in the same transaction, sent once it commits or, if the broker is away, when it is
  back; the task id is stored on the workspace beforehand (Flower's link works at once).

The task side (`run_operation`) claims the queued call once more, so that a task delivered
twice — or two workers racing on a redelivered message — calls the backend once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, TransitionResult, User, Workspace
from .outbox import Job, queue_after_commit
from .workspace_backends import WorkspaceBackendError, get_backend

log = logging.getLogger(__name__)

Status = Workspace.Status
Op = Workspace.Operation
Action = AuditEvent.Action


class WorkspaceError(Exception):
    """An operation the workspace's state does not allow."""


@dataclass(frozen=True)
class Move:
    """One operation: its audit action, the states it starts from, the state it moves to
    at once, the states that mean "already done", and the backend call it queues."""

    action: str
    sources: tuple[str, ...]
    target: str
    done: tuple[str, ...]
    operation: str
    owner_approved: bool = False


PROVISION = Move(
    Action.WORKSPACE_PROVISION,
    (Status.REQUESTED,),
    Status.PROVISIONING,
    (Status.PROVISIONING, Status.ACTIVE),
    Op.PROVISION,
    owner_approved=True,
)
SUSPEND = Move(
    Action.WORKSPACE_SUSPEND, (Status.ACTIVE,), Status.SUSPENDED, (Status.SUSPENDED,), Op.SUSPEND
)
RESUME = Move(
    Action.WORKSPACE_RESUME,
    (Status.SUSPENDED,),
    Status.ACTIVE,
    (Status.ACTIVE,),
    Op.RESUME,
    owner_approved=True,
)
DELETE = Move(
    Action.WORKSPACE_DELETE,
    (Status.REQUESTED, Status.ACTIVE, Status.SUSPENDED, Status.FAILED),
    Status.DELETING,
    (Status.DELETING, Status.DELETED),
    Op.DELETE,
)

# The state a queued (or retried) backend call runs in, and the state its success ends in.
RUNS_IN = {
    Op.PROVISION: Status.PROVISIONING,
    Op.SUSPEND: Status.SUSPENDED,
    Op.RESUME: Status.ACTIVE,
    Op.DELETE: Status.DELETING,
}
ENDS_IN = {
    Op.PROVISION: Status.ACTIVE,
    Op.SUSPEND: Status.SUSPENDED,
    Op.RESUME: Status.ACTIVE,
    Op.DELETE: Status.DELETED,
}


def _audit(rows: Iterable[tuple[int, int]], action: str, **common) -> None:
    """One audit event per (workspace id, owner id); the member is the event's target."""
    by = common.pop("by", None)
    actor_name = common.pop("actor_name", "") or (by.get_username() if by else "")
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=by,
            actor_name=actor_name,
            action=action,
            target_id=owner_id,
            workspace_id=workspace_id,
            **common,
        )
        for workspace_id, owner_id in rows
    )


def _queue_operations(jobs: list[tuple[int, str, str]]) -> None:
    """Queue `run_operation` for each (workspace id, operation, task id) through the
    outbox: written with the move, sent once it commits (a worker must never look for a
    row the transaction has not shown it yet), sent later if the broker is away."""
    queue_after_commit(
        Job("accounts.tasks.run_workspace_operation", [workspace_id, operation], task_id)
        for workspace_id, operation, task_id in jobs
    )


def _move(
    ids: Iterable[int],
    move: Move,
    *,
    by: User | None,
    reason: str = "",
    ip: str | None = None,
    automatic: bool = False,
    actor_name: str = "",
    only: Q | None = None,
    extra: dict | None = None,
) -> TransitionResult:
    """Move the given workspaces through one operation (see the module docstring).

    Queries, whatever the number of workspaces: one locking SELECT, one UPDATE, one
    UPDATE of the task ids (a CASE per batch), one bulk INSERT each of audit and outbox
    rows.
    """
    ids = list(dict.fromkeys(ids))
    if not ids:
        return TransitionResult([], [], [])
    reason = (reason or "").strip()
    with transaction.atomic():
        # FOR UPDATE makes a second admin wait, then see the new state (PostgreSQL); on
        # SQLite the UPDATE's filter below is what keeps the claim single.
        rows = Workspace.objects.select_for_update().filter(pk__in=ids)
        if only is not None:
            rows = rows.filter(only)
        current = {
            row["pk"]: row
            for row in rows.values(
                "pk", "status", "owner_id", "operation_claimed_at", "owner__membership"
            )
        }
        allowed = Q(status__in=move.sources, operation_claimed_at__isnull=True)
        if move.owner_approved:
            allowed &= Q(owner__membership=User.Membership.APPROVED)

        def may_start(row) -> bool:
            return (
                row["status"] in move.sources
                and row["operation_claimed_at"] is None
                and (not move.owner_approved or row["owner__membership"] == "approved")
            )

        candidates = [pk for pk in ids if pk in current and may_start(current[pk])]
        unchanged = [
            pk
            for pk in ids
            if pk in current and pk not in candidates and current[pk]["status"] in move.done
        ]
        refused = [pk for pk in ids if pk not in candidates and pk not in unchanged]
        changed: list[int] = []
        if candidates:
            now = timezone.now()  # doubles as the claim marker: microsecond-unique per call
            count = Workspace.objects.filter(allowed, pk__in=candidates).update(
                status=move.target,
                operation=move.operation,
                operation_claimed_at=None,
                updated_at=now,
                **(extra or {}),
            )
            if count == len(candidates):
                changed = candidates
            else:  # another writer moved some between our SELECT and UPDATE
                changed = list(
                    Workspace.objects.filter(
                        pk__in=candidates, status=move.target, updated_at=now
                    ).values_list("pk", flat=True)
                )
                unchanged += [pk for pk in candidates if pk not in changed]
            jobs = [(pk, move.operation, str(uuid.uuid4())) for pk in changed]
            Workspace.objects.bulk_update(
                [Workspace(pk=pk, task_id=task_id) for pk, _op, task_id in jobs], ["task_id"]
            )
            _audit(
                [(pk, current[pk]["owner_id"]) for pk in changed],
                move.action,
                by=by,
                actor_name=actor_name,
                reason=reason,
                client_ip=ip,
                automatic=automatic,
            )
            _queue_operations(jobs)
    return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)


def provision(ids: Iterable[int], **kwargs) -> TransitionResult:
    """requested → provisioning; the task makes it active (or failed)."""
    return _move(ids, PROVISION, **kwargs)


def suspend(ids: Iterable[int], *, with_member: bool = False, **kwargs) -> TransitionResult:
    """active → suspended; `with_member` marks the ones suspended because the member was."""
    return _move(ids, SUSPEND, extra={"suspended_with_member": with_member}, **kwargs)


def resume(ids: Iterable[int], **kwargs) -> TransitionResult:
    """suspended → active (the owner must be an approved member)."""
    return _move(ids, RESUME, extra={"suspended_with_member": False}, **kwargs)


def delete(ids: Iterable[int], **kwargs) -> TransitionResult:
    """→ deleting; the task archives and removes it, then marks it deleted."""
    return _move(ids, DELETE, **kwargs)


def retry(ids: Iterable[int], **kwargs) -> TransitionResult:
    """failed → the state its failed operation runs in, and that operation queued again."""
    ids = list(dict.fromkeys(ids))
    changed: list[int] = []
    for operation, status in RUNS_IN.items():
        move = Move(Action.WORKSPACE_RETRY, (Status.FAILED,), status, (), operation)
        changed += _move(ids, move, only=Q(operation=operation), **kwargs).changed
    unchanged = list(
        Workspace.objects.filter(pk__in=ids)
        .exclude(pk__in=changed)
        .exclude(status=Status.FAILED)
        .filter(operation="")
        .values_list("pk", flat=True)
    )
    refused = [pk for pk in ids if pk not in changed and pk not in unchanged]
    return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)


def change_quota(
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
    """Set the quota (and CPU/memory limits) of every live workspace given; the usage is
    measured again so the over-quota warning follows the new figure at once."""
    if quota_gib < 1:
        raise WorkspaceError(_("The quota must be at least 1 GiB."))
    ids = list(dict.fromkeys(ids))
    with transaction.atomic():
        rows = dict(
            Workspace.objects.select_for_update()
            .filter(pk__in=ids)
            .live()
            .values_list("pk", "quota_gib")
        )
        changed = [pk for pk in ids if pk in rows]
        owners = dict(Workspace.objects.filter(pk__in=changed).values_list("pk", "owner_id"))
        Workspace.objects.filter(pk__in=changed).update(
            quota_gib=quota_gib,
            cpu_limit=cpu_limit,
            memory_mib=memory_mib,
            updated_at=timezone.now(),
        )
        for pk in changed:
            note = f"{rows[pk]} → {quota_gib} GiB"
            _audit(
                [(pk, owners[pk])],
                Action.WORKSPACE_QUOTA,
                by=by,
                actor_name=actor_name,
                reason=f"{note}; {reason}".strip("; ") if reason else note,
                client_ip=ip,
            )
        measured = list(
            Workspace.objects.filter(
                pk__in=changed, status__in=(Status.ACTIVE, Status.SUSPENDED)
            ).values_list("pk", flat=True)
        )
        queue_after_commit(Job("accounts.tasks.measure_workspace_usage", [pk]) for pk in measured)
    refused = [pk for pk in ids if pk not in changed]
    return TransitionResult(changed=changed, unchanged=[], refused=refused)


def request(
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
        return TransitionResult([], [], [])
    with transaction.atomic():
        # Locking the members serialises two requests for the same member (a double
        # click); the partial unique constraint is the last line if anything slips by.
        approved = set(
            User.objects.select_for_update()
            .filter(pk__in=user_ids, membership=User.Membership.APPROVED)
            .values_list("pk", flat=True)
        )
        having = set(
            Workspace.objects.live()
            .filter(owner_id__in=user_ids)
            .values_list("owner_id", flat=True)
        )
        changed = [pk for pk in user_ids if pk in approved and pk not in having]
        unchanged = [pk for pk in user_ids if pk in having]
        refused = [pk for pk in user_ids if pk not in changed and pk not in unchanged]
        if changed:
            created = Workspace.objects.bulk_create(
                Workspace(owner_id=pk, backend=settings.WORKSPACE_BACKEND) for pk in changed
            )
            _audit(
                [(w.pk, w.owner_id) for w in created],
                Action.WORKSPACE_REQUEST,
                by=by,
                actor_name=actor_name,
                reason=(reason or "").strip(),
                client_ip=ip,
                automatic=automatic,
            )
            if settings.WORKSPACE_AUTO_PROVISION:
                provision(
                    [w.pk for w in created],
                    by=None,
                    reason="WORKSPACE_AUTO_PROVISION",
                    automatic=True,
                )
    return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)


def follow_membership(action: str, user_ids: list[int], *, by: User | None, ip: str | None):
    """What a membership change does to workspaces, in the change's own transaction:
    approval requests one (WORKSPACE_AUTO_REQUEST), suspension suspends the active one,
    reinstatement resumes the one the suspension suspended."""
    if action == User.APPROVE.action and settings.WORKSPACE_AUTO_REQUEST:
        request(user_ids, by=by, ip=ip, automatic=True, reason="member approved")
    elif action == User.SUSPEND.action:
        ids = Workspace.objects.filter(owner_id__in=user_ids, status=Status.ACTIVE).values_list(
            "pk", flat=True
        )
        suspend(
            list(ids), by=by, ip=ip, automatic=True, reason="member suspended", with_member=True
        )
    elif action == User.REINSTATE.action:
        ids = Workspace.objects.filter(
            owner_id__in=user_ids, status=Status.SUSPENDED, suspended_with_member=True
        ).values_list("pk", flat=True)
        resume(list(ids), by=by, ip=ip, automatic=True, reason="member reinstated")


# --- The worker's side ----------------------------------------------------------------------


def _finish(workspace: Workspace, claimed_at, *, action: str | None, **fields) -> bool:
    """Record the backend's answer, only if our claim still holds; audit a state change."""
    with transaction.atomic():
        count = Workspace.objects.filter(
            pk=workspace.pk, operation=workspace.operation, operation_claimed_at=claimed_at
        ).update(operation_claimed_at=None, updated_at=timezone.now(), **fields)
        if count and action:
            _audit(
                [(workspace.pk, workspace.owner_id)],
                action,
                by=None,
                reason=fields.get("last_error", ""),
                automatic=True,
            )
    return bool(count)


def run_operation(*, workspace_id: int, operation: str) -> dict:
    """Call the backend for a queued operation and record what came of it.

    The claim is a conditional UPDATE on (status, operation, not yet claimed): of two
    deliveries of the same task, only one gets the row; the other returns "skipped".
    """
    summary = {"workspace": workspace_id, "operation": operation}
    claimed_at = timezone.now()
    claimed = Workspace.objects.filter(
        pk=workspace_id,
        status=RUNS_IN.get(operation),
        operation=operation,
        operation_claimed_at__isnull=True,
    ).update(operation_claimed_at=claimed_at)
    if not claimed:
        return {**summary, "skipped": "not queued: done already, or another delivery has it"}
    workspace = Workspace.objects.select_related("owner").get(pk=workspace_id)
    try:
        answer = getattr(get_backend(workspace.backend), operation)(workspace.spec())
    except Exception as error:  # any failure is the admin's to see and retry
        message = str(error) if isinstance(error, WorkspaceBackendError) else repr(error)
        log.warning("Workspace %s %s failed: %s", workspace_id, operation, message)
        _finish(
            workspace,
            claimed_at,
            action=Action.WORKSPACE_FAILED,
            status=Status.FAILED,
            last_error=message[:5000],
        )
        return {**summary, "status": Status.FAILED.value, "error": message[:500]}
    fields = {"status": ENDS_IN[operation], "operation": "", "last_error": ""}
    action = None
    if operation == Op.PROVISION:
        fields["location"] = answer
        action = Action.WORKSPACE_READY
    elif operation == Op.DELETE:
        fields.update(archive=answer or "", location="", usage_bytes=None, usage_files=None)
        action = Action.WORKSPACE_DELETED
    finished = _finish(workspace, claimed_at, action=action, **fields)
    if finished and fields["status"] == Status.ACTIVE and not _owner_is_approved(workspace):
        # The member was suspended while this operation ran, so suspending them could not
        # catch a workspace that was not active yet; catch it now, the same way.
        suspend(
            [workspace.pk], by=None, automatic=True, reason="member suspended", with_member=True
        )
        location = fields.get("location", workspace.location)
        return {**summary, "status": Status.SUSPENDED.value, "location": location}
    return {**summary, "status": fields["status"].value, "location": fields.get("location", "")}


def _owner_is_approved(workspace: Workspace) -> bool:
    # Read afresh: the membership may have changed since the workspace row was loaded.
    membership = User.objects.filter(pk=workspace.owner_id).values_list("membership", flat=True)
    return membership.first() == User.Membership.APPROVED


def measure_usage(*, workspace_id: int) -> dict:
    """Measure one active or suspended workspace and store the figures (no audit: a
    measurement changes nothing)."""
    workspace = (
        Workspace.objects.select_related("owner")
        .filter(pk=workspace_id, status__in=(Status.ACTIVE, Status.SUSPENDED))
        .first()
    )
    if workspace is None:
        return {"workspace": workspace_id, "skipped": "not active or suspended"}
    try:
        usage = get_backend(workspace.backend).usage(workspace.spec())
    except WorkspaceBackendError as error:
        log.warning("Workspace %s usage not measured: %s", workspace_id, error)
        return {"workspace": workspace_id, "error": str(error)}
    Workspace.objects.filter(pk=workspace_id).update(
        usage_bytes=usage.bytes_on_disk,
        usage_files=usage.files,
        usage_measured_at=timezone.now(),
    )
    over = usage.bytes_on_disk > workspace.quota_bytes
    return {
        "workspace": workspace_id,
        "bytes": usage.bytes_on_disk,
        "files": usage.files,
        "over_quota": over,
    }


def fail_abandoned(*, now=None) -> int:
    """Mark failed the operations a worker claimed and never finished (it died, or was
    killed past the task's hard time limit), so an admin can retry them."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    stuck = list(
        Workspace.objects.filter(operation_claimed_at__lt=cutoff).values_list(
            "pk", "owner_id", "operation_claimed_at"
        )
    )
    failed = 0
    for pk, owner_id, claimed_at in stuck:
        with transaction.atomic():
            message = f"The worker never finished (claimed at {claimed_at:%Y-%m-%d %H:%M:%S})."
            if Workspace.objects.filter(pk=pk, operation_claimed_at=claimed_at).update(
                status=Status.FAILED, operation_claimed_at=None, last_error=message, updated_at=now
            ):
                _audit([(pk, owner_id)], Action.WORKSPACE_FAILED, reason=message, automatic=True)
                failed += 1
    return failed


def usage_targets() -> list[int]:
    """The workspaces the periodic task measures."""
    return list(
        Workspace.objects.filter(status__in=(Status.ACTIVE, Status.SUSPENDED)).values_list(
            "pk", flat=True
        )
    )
