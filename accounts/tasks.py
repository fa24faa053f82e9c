"""Celery tasks of the accounts app: thin adapters that take ids and call the services."""

from celery import shared_task

from . import outbox, services, workspaces
from .models import LogoutTokenUse

# E-mail is worth retrying when the mail server hiccups. A notice goes out once per
# outbox row (first_delivery): a message sent twice, or redelivered, mails nobody twice.
MAIL_TASK_OPTIONS = {
    "bind": True,
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "max_retries": 5,
    "time_limit": 60,
    "soft_time_limit": 50,
}
ALREADY_DELIVERED = {"skipped": "delivered before"}


@shared_task(name="accounts.tasks.notify_members", **MAIL_TASK_OPTIONS)
def notify_members(self, action: str, ids: list[int], reason: str) -> dict:
    """Tell members they were approved or rejected."""
    with outbox.first_delivery(self.request.id) as first:
        if not first:
            return ALREADY_DELIVERED
        sent = services.send_member_notices(action=action, ids=ids, reason=reason)
    return {"action": action, "members": len(ids), "sent": sent}


@shared_task(name="accounts.tasks.notify_admins", **MAIL_TASK_OPTIONS)
def notify_admins(self, user_id: int) -> dict:
    """Tell the approving admins that someone is waiting."""
    with outbox.first_delivery(self.request.id) as first:
        if not first:
            return ALREADY_DELIVERED
        sent = services.send_pending_notice(user_id=user_id)
    return {"member": user_id, "sent": sent}


@shared_task(name="accounts.tasks.send_outbox", time_limit=120, soft_time_limit=100)
def send_outbox() -> dict:
    """Every OUTBOX_INTERVAL (beat): send the tasks the broker was away for, forget old ones."""
    return {**outbox.send(), "forgotten": outbox.prune()}


# Workspace operations are not retried automatically: a failure marks the workspace
# `failed` with the message, and an admin decides. The time limits bound a stuck backend.
@shared_task(name="accounts.tasks.run_workspace_operation", time_limit=300, soft_time_limit=240)
def run_workspace_operation(workspace_id: int, operation: str) -> dict:
    """Call the workspace backend for a queued provision, suspend, resume or delete."""
    return workspaces.run_operation(workspace_id=workspace_id, operation=operation)


@shared_task(name="accounts.tasks.measure_workspace_usage", time_limit=600, soft_time_limit=540)
def measure_workspace_usage(workspace_id: int) -> dict:
    """Measure one workspace's usage."""
    return workspaces.measure_usage(workspace_id=workspace_id)


@shared_task(name="accounts.tasks.refresh_workspace_usage", time_limit=60)
def refresh_workspace_usage() -> dict:
    """The periodic task: one measurement per active or suspended workspace (so a large
    one does not hold up the rest), and abandoned operations marked failed."""
    targets = workspaces.usage_targets()
    for workspace_id in targets:
        measure_workspace_usage.delay(workspace_id)
    return {"queued": len(targets), "abandoned": workspaces.fail_abandoned()}


@shared_task(name="accounts.tasks.prune_logout_tokens")
def prune_logout_tokens() -> dict:
    """Daily: forget back-channel logout token ids that can no longer be replayed."""
    return {"forgotten": LogoutTokenUse.prune()}
