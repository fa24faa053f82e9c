"""Celery tasks of the accounts app: thin adapters that take ids and call the services."""

from celery import shared_task

from aixops import outbox

from . import services
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


@shared_task(name="accounts.tasks.prune_logout_tokens")
def prune_logout_tokens() -> dict:
    """Daily: forget back-channel logout token ids that can no longer be replayed."""
    return {"forgotten": LogoutTokenUse.prune()}
