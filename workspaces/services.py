"""The workspace work that leaves the process: calling the backends, from the worker.

The lifecycle itself (who may provision, suspend … and the claims that keep it single) is
workspaces.models; a queued operation reaches `run_operation` through the outbox. Each
task claims its row once more, so that a task delivered twice — or two workers racing on
a redelivered message — calls the backend once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent, record

from .backends import WorkspaceBackendError, WorkspaceSpec, get_backend
from .models import ENDS_IN, RUNS_IN, Action, Op, Status, Workspace

log = logging.getLogger(__name__)


def spec_of(workspace: Workspace) -> WorkspaceSpec:
    """What the backend is told about a workspace."""
    return WorkspaceSpec(
        workspace_id=workspace.pk,
        username=workspace.owner.username,
        quota_gib=workspace.quota_gib,
        cpu_limit=float(workspace.cpu_limit) if workspace.cpu_limit is not None else None,
        memory_mib=workspace.memory_mib,
    )


def follow_membership(action: str, user_ids: list[int], *, by: User | None, ip: str | None):
    """What a membership change does to workspaces, in the change's own transaction:
    approval requests one (WORKSPACE_AUTO_REQUEST), suspension suspends the active one,
    reinstatement resumes the one the suspension suspended."""
    if action == User.APPROVE.action and settings.WORKSPACE_AUTO_REQUEST:
        Workspace.objects.request(user_ids, by=by, ip=ip, automatic=True, reason="member approved")
    elif action == User.SUSPEND.action:
        ids = Workspace.objects.filter(owner_id__in=user_ids, status=Status.ACTIVE).values_list(
            "pk", flat=True
        )
        Workspace.objects.suspend(
            list(ids), by=by, ip=ip, automatic=True, reason="member suspended", with_member=True
        )
    elif action == User.REINSTATE.action:
        ids = Workspace.objects.filter(
            owner_id__in=user_ids, status=Status.SUSPENDED, suspended_with_member=True
        ).values_list("pk", flat=True)
        Workspace.objects.resume(
            list(ids), by=by, ip=ip, automatic=True, reason="member reinstated"
        )


def _finish(workspace: Workspace, claimed_at, *, action: str | None, **fields) -> bool:
    """Record the backend's answer, only if our claim still holds; audit a state change."""
    with transaction.atomic():
        count = Workspace.objects.filter(
            pk=workspace.pk, operation=workspace.operation, operation_claimed_at=claimed_at
        ).update(operation_claimed_at=None, updated_at=timezone.now(), **fields)
        if count and action:
            record(
                action,
                [(workspace.owner_id, workspace.pk)],
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
        answer = getattr(get_backend(workspace.backend), operation)(spec_of(workspace))
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
        fields.update(
            archive=answer or "",
            location="",
            usage_bytes=None,
            usage_files=None,
            last_activity=None,
        )
        action = Action.WORKSPACE_DELETED
    finished = _finish(workspace, claimed_at, action=action, **fields)
    if finished and fields["status"] == Status.ACTIVE and not _owner_is_approved(workspace):
        # The member was suspended while this operation ran, so suspending them could not
        # catch a workspace that was not active yet; catch it now, the same way.
        follow_membership(User.SUSPEND.action, [workspace.owner_id], by=None, ip=None)
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
        usage = get_backend(workspace.backend).usage(spec_of(workspace))
    except WorkspaceBackendError as error:
        log.warning("Workspace %s usage not measured: %s", workspace_id, error)
        return {"workspace": workspace_id, "error": str(error)}
    Workspace.objects.filter(pk=workspace_id).update(
        usage_bytes=usage.bytes_on_disk,
        usage_files=usage.files,
        last_activity=usage.last_activity,
        usage_measured_at=timezone.now(),
    )
    over = usage.bytes_on_disk is not None and usage.bytes_on_disk > workspace.quota_bytes
    return {
        "workspace": workspace_id,
        "bytes": usage.bytes_on_disk,
        "files": usage.files,
        "last_activity": usage.last_activity.isoformat() if usage.last_activity else None,
        "over_quota": over,
    }


def stop_idle(*, now=None) -> dict:
    """Stop the servers of active workspaces unused for WORKSPACE_IDLE_TIMEOUT seconds.

    The stored last_activity (from the last usage measurement) picks the candidates; each
    is measured again first, so a member who came back since is left alone.
    """
    timeout = settings.WORKSPACE_IDLE_TIMEOUT
    if not timeout:
        return {"stopped": 0, "skipped": "WORKSPACE_IDLE_TIMEOUT is 0"}
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=timeout)
    candidates = (
        Workspace.objects.select_related("owner")
        .filter(status=Status.ACTIVE, idle_stopped_at__isnull=True, last_activity__lt=cutoff)
        .order_by("last_activity")
    )
    idle = []
    for workspace in candidates:
        measured = measure_usage(workspace_id=workspace.pk)
        if "error" not in measured and (
            Workspace.objects.filter(pk=workspace.pk, last_activity__lt=cutoff).exists()
        ):
            idle.append(workspace.pk)
    result = Workspace.objects.stop_idle(
        idle,
        by=None,
        automatic=True,
        reason=f"idle for more than {timeout} s (WORKSPACE_IDLE_TIMEOUT)",
    )
    return {"stopped": len(result.changed), "checked": len(candidates)}


def reconcile() -> dict:
    """Compare each backend that lists its workspaces (`inventory`) with the portal.

    What differs is the drift: kept on the workspace (the admin's list filters on it) and
    written to the audit log when it appears or changes. Nothing else is changed: the
    admin's last decision stands, and the admin decides what to do about the drift. A
    backend user the portal has no live workspace for is audited on the member of that
    name (once), or logged when there is no such member.
    """
    summary = {}
    names = set(Workspace.objects.live().values_list("backend", flat=True).distinct())
    for name in sorted(names):
        backend = get_backend(name)
        if not hasattr(backend, "inventory"):
            continue
        try:
            found = backend.inventory()
        except WorkspaceBackendError as error:
            log.warning("Workspaces of %s not reconciled: %s", name, error)
            summary[name] = {"error": str(error)}
            continue
        summary[name] = _reconcile_backend(backend, name, found)
    return summary


def drift_of(workspace: Workspace, running: bool | None) -> str:
    """What the backend shows (`running`: whether the server runs; None: no such workspace
    there) that the portal does not expect of this workspace; "" when they agree."""
    if workspace.operation or workspace.status not in (Status.ACTIVE, Status.SUSPENDED):
        return ""  # an operation is under way, or nothing runs by design
    if running is None:
        return "The backend has no such workspace: it was removed there."
    if workspace.status == Status.SUSPENDED and running:
        return "The server runs although the workspace is suspended."
    if workspace.idle_stopped_at and running:
        return "The server runs although the idle policy stopped it."
    if workspace.status == Status.ACTIVE and not workspace.idle_stopped_at and not running:
        return "The server is stopped in the backend."
    return ""


def _reconcile_backend(backend, name: str, found: dict[str, bool]) -> dict:
    workspaces = list(Workspace.objects.live().filter(backend=name).select_related("owner"))
    keys = {workspace.pk: backend.key(workspace.owner.username) for workspace in workspaces}
    drifts = {w.pk: drift_of(w, found.get(keys[w.pk])) for w in workspaces}
    new_drift = 0
    for workspace in workspaces:
        drift = drifts[workspace.pk]
        if drift == workspace.drift:
            continue
        with transaction.atomic():
            # Only if the workspace has not moved since it was read: a drift found against
            # an outdated state is no drift.
            moved = Workspace.objects.filter(
                pk=workspace.pk,
                status=workspace.status,
                operation=workspace.operation,
                drift=workspace.drift,
            ).update(drift=drift)
            if moved and drift:
                record(
                    Action.WORKSPACE_DRIFT,
                    [(workspace.owner_id, workspace.pk)],
                    reason=drift,
                    automatic=True,
                )
                new_drift += 1
    unknown = sorted(set(found) - set(keys.values()))
    members = {
        backend.key(username): pk
        for pk, username in User.objects.annotate(key=Lower("username"))
        .filter(key__in=unknown)
        .values_list("pk", "username")
    }
    for key in unknown:
        reason = f"The backend has a workspace {key!r} the portal has no live workspace for."
        if key not in members:
            log.warning("Workspace drift in %s: %s No member has that name.", name, reason)
        elif not AuditEvent.objects.filter(
            action=Action.WORKSPACE_DRIFT, target_id=members[key], workspace=None, reason=reason
        ).exists():
            record(Action.WORKSPACE_DRIFT, [members[key]], reason=reason, automatic=True)
    return {
        "checked": len(workspaces),
        "drift": sum(1 for drift in drifts.values() if drift),
        "new_drift": new_drift,
        "unknown": unknown,
    }


def fail_abandoned(*, now=None) -> int:
    """Mark failed the operations a worker claimed and never finished (it died, or was
    killed past the task's hard time limit), so an admin can retry them."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WORKSPACE_TASK_TIME_LIMIT + 60)
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
                record(Action.WORKSPACE_FAILED, [(owner_id, pk)], reason=message, automatic=True)
                failed += 1
    return failed


def usage_targets() -> list[int]:
    """The workspaces the periodic task measures."""
    return list(
        Workspace.objects.filter(status__in=(Status.ACTIVE, Status.SUSPENDED)).values_list(
            "pk", flat=True
        )
    )
