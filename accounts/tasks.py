"""Celery tasks of the accounts app: thin adapters that take ids and call the services."""

from celery import shared_task

from . import services

# E-mail is worth retrying when the mail server hiccups; the notices are idempotent enough
# (a member told twice is better than a member never told).
MAIL_TASK_OPTIONS = {
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "max_retries": 5,
    "time_limit": 60,
    "soft_time_limit": 50,
}


@shared_task(name="accounts.tasks.notify_members", **MAIL_TASK_OPTIONS)
def notify_members(action: str, ids: list[int], reason: str) -> dict:
    """Tell members they were approved or rejected."""
    sent = services.send_member_notices(action=action, ids=ids, reason=reason)
    return {"action": action, "members": len(ids), "sent": sent}


@shared_task(name="accounts.tasks.notify_admins", **MAIL_TASK_OPTIONS)
def notify_admins(user_id: int) -> dict:
    """Tell the approving admins that someone is waiting."""
    return {"member": user_id, "sent": services.send_pending_notice(user_id=user_id)}
