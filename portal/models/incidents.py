"""Incidents: an outage of a root cause, from its first down alert to its recovery, with the
updates admins post on the way."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalog import ItemRecord


class IncidentState(models.TextChoices):
    """Where an incident stands, as status pages say it."""

    INVESTIGATING = "investigating", _("investigating")
    IDENTIFIED = "identified", _("identified")
    MONITORING = "monitoring", _("monitoring")
    RESOLVED = "resolved", _("resolved")


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(state=IncidentState.RESOLVED)

    def last_change(self):
        """When any incident last changed (opened, updated, resolved): what cached pages
        showing incident banners are keyed by. A subquery-ready queryset of one value."""
        return self.order_by("-changed_at").values("changed_at")[:1]


class Incident(ItemRecord):
    """An outage of one root cause (a service or data store), opened by its down alert
    and resolved by its recovery (or by an admin). Its timeline is its alerts (the state
    changes) and the updates admins post (`IncidentUpdate`)."""

    title = models.CharField(_("title"), max_length=200)
    cause = models.SlugField(_("cause"), max_length=64)
    affected = models.JSONField(_("affected"), default=list, blank=True)
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=IncidentState.choices,
        default=IncidentState.INVESTIGATING,
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    objects = IncidentQuerySet.as_manager()

    class Meta(ItemRecord.Meta):
        ordering = ["-opened_at", "-pk"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [models.Index(fields=["-changed_at"], name="incident_changed")]
        constraints = [
            *ItemRecord.Meta.constraints,
            # One open incident per root cause: a second outage of it joins the first.
            models.UniqueConstraint(
                fields=["service"],
                condition=~models.Q(state="resolved") & models.Q(service__isnull=False),
                name="incident_one_open_per_service",
            ),
            models.UniqueConstraint(
                fields=["data_store"],
                condition=~models.Q(state="resolved") & models.Q(data_store__isnull=False),
                name="incident_one_open_per_data_store",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state != IncidentState.RESOLVED

    def timeline(self) -> list:
        """The state changes (its alerts) and the admins' updates, oldest first: two
        queries, or none when prefetched. The alerts that told of an update are the update
        itself, so left out."""
        alerts = [alert for alert in self.alerts.all() if alert.event != "update"]
        return sorted([*alerts, *self.updates.all()], key=lambda entry: (entry.at, entry.pk))

    def as_dict(self) -> dict:
        """The incident and its timeline, for the JSON API."""
        return {
            "id": self.pk,
            "title": self.title,
            "category": self.category.slug,
            "cause": self.cause,
            "affected": list(self.affected),
            "state": self.state,
            "opened_at": self.opened_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "timeline": [entry.timeline_entry() for entry in self.timeline()],
        }


class IncidentUpdate(models.Model):
    """What an admin said of an incident, and the state they moved it to: append-only, with
    who posted it and from where (the incident's audit trail)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="updates", verbose_name=_("incident")
    )
    state = models.CharField(_("state"), max_length=16, choices=IncidentState.choices)
    text = models.TextField(_("text"), max_length=4000)
    at = models.DateTimeField(_("at"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    by_name = models.CharField(_("by (name)"), max_length=150, blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("incident update")
        verbose_name_plural = _("incident updates")

    def __str__(self) -> str:
        return f"{self.get_state_display()}: {self.text[:60]}"

    def timeline_entry(self) -> dict:
        return {"at": self.at.isoformat(), "update": self.state, "text": self.text}
