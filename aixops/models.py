"""The outbox: Celery tasks written with the change that asks for them (aixops.outbox)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxTask(models.Model):
    """A Celery task to send once the transaction that wrote it commits: the outbox.

    Work that follows a change (an e-mail, a workspace operation) is written here in the
    change's own transaction, so it is neither lost nor half-done when the broker is
    away: the commit sends it at once, and the `outbox` beat task sends whatever is still
    waiting (aixops.outbox). `task_id` is the id the task goes out with; a task that
    must not run twice (an e-mail) marks `started_at` through it, so a second delivery of
    the same message does nothing. The row knows nothing about the task it carries.
    """

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list)
    task_id = models.CharField(_("task id"), max_length=255, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Held by the one sender handing the task to the broker (see aixops.outbox.send).
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
