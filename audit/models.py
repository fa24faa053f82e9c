"""The audit log: append-only events of who did what to whom, and the one way to write them."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aixops.observability import audit_line


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
        TOKEN_CREATE = "token.create", _("API token created")
        TOKEN_REVOKE = "token.revoke", _("API token revoked")
        WORKSPACE_IDLE_STOP = "workspace.idle_stop", _("Workspace stopped (idle)")
        WORKSPACE_START = "workspace.start", _("Workspace started")
        WORKSPACE_DRIFT = "workspace.drift", _("Workspace drift found")

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
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
        settings.AUTH_USER_MODEL,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    # The member stays the target of workspace events too; this says which of their
    # workspaces (a member may have had several, deleted ones are kept) it was about.
    workspace = models.ForeignKey(
        "workspaces.Workspace",
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
        audit_line(
            self.action,
            actor=self.actor_name or ("automatic" if self.automatic else "system"),
            target_id=self.target_id,
            workspace_id=self.workspace_id,
            reason=self.reason,
            client_ip=self.client_ip,
        )

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")


def record(
    action: str,
    targets: Iterable[int | tuple[int, int]],
    *,
    by=None,
    actor_name: str = "",
    reason: str = "",
    ip: str | None = None,
    automatic: bool = False,
) -> list[AuditEvent]:
    """Append one event of `action` per target, in one INSERT: a target is a member's id,
    or a (member id, workspace id) pair for a workspace's event (its member stays the
    target). `by` is the person who acted (None for the system or a rule); their name is
    kept as text too, so the line reads right after a rename."""
    actor_name = actor_name or (by.get_username() if by is not None else "")
    events = []
    for target in targets:
        member_id, workspace_id = target if isinstance(target, tuple) else (target, None)
        events.append(
            AuditEvent(
                actor=by,
                actor_name=actor_name,
                action=action,
                target_id=member_id,
                workspace_id=workspace_id,
                reason=reason,
                client_ip=ip,
                automatic=automatic,
            )
        )
    return AuditEvent.objects.bulk_create(events)
