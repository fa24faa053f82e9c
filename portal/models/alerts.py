"""Alerts: a real change of an item's status, the channels that hear of it, and each
delivery of one to one channel."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalog import Category, DataStore, ItemRecord, Service
from .health import HealthCheck, HealthStatus, validate_host, validate_target
from .incidents import Incident, IncidentState


class AlertEvent(ItemRecord):
    """One real change of a service's or data store's status (after its checks' flap
    thresholds), for its root cause: the dependents that changed with it in the same scan
    are named in `affected` instead of having alerts of their own. Written by scans only,
    in the scan's transaction; never edited."""

    class Event(models.TextChoices):
        DOWN = "down", _("down")
        DEGRADED = "degraded", _("degraded")
        RECOVERED = "recovered", _("recovered")
        UPDATE = "update", _("incident update")

    event = models.CharField(_("event"), max_length=16, choices=Event.choices)
    # The item's status; for an incident update, the state the incident moved to.
    status = models.CharField(_("status"), max_length=16)
    # Slugs and name as they were, so that the alert reads the same after a rename.
    item = models.SlugField(_("item"), max_length=64)
    item_name = models.CharField(_("item name"), max_length=120)
    cause = models.SlugField(_("cause"), max_length=64)
    affected = models.JSONField(_("affected"), default=list, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)
    scan = models.ForeignKey(
        "portal.Scan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("scan"),
    )
    incident = models.ForeignKey(
        Incident,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("incident"),
    )

    class Meta(ItemRecord.Meta):
        ordering = ["-at", "-pk"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["-at"], name="alert_time")]

    def __str__(self) -> str:
        return f"{self.item} {self.event} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def status_label(self) -> str:
        """The status in words: the item's, or the incident's state for an update."""
        states = IncidentState if self.event == self.Event.UPDATE else HealthStatus
        return states(self.status).label

    @property
    def url(self) -> str:
        """The item's page: its category's overview, on the portal's public address."""
        return settings.PORTAL_URL + self.category.get_absolute_url()

    def timeline_entry(self) -> dict:
        """The alert as a line of its incident's timeline (JSON API)."""
        return {
            "at": self.at.isoformat(),
            "event": self.event,
            "status": self.status,
            "affected": list(self.affected),
        }

    def payload(self) -> dict:
        """What a webhook receives (the README documents it)."""
        return {
            "event": self.event,
            "category": self.category.slug,
            "item": self.item,
            "name": self.item_name,
            "status": self.status,
            "cause": self.cause,
            "affected": list(self.affected),
            "incident": self.incident_id,
            "detail": self.detail,
            "at": self.at.isoformat(),
            "url": self.url,
        }


class ChannelQuerySet(models.QuerySet):
    def for_delivery(self):
        """Enabled channels with their subscriptions, in four queries."""
        return self.filter(enabled=True).prefetch_related("categories", "services", "data_stores")


class Channel(models.Model):
    """Where alerts go: e-mail addresses, a webhook, or a chat (any apprise URL), and
    which of them it hears of. A channel with no categories, services or data stores
    chosen hears of everything; with some, of alerts about them (as cause or affected).

    The channels ALERT_EMAIL_TO and ALERT_WEBHOOK_URL declare are rows too (`declared`),
    kept in step with the settings; the admin shows them read-only.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WEBHOOK = "webhook", _("Webhook")
        APPRISE = "apprise", _("Chat or other (apprise URL)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    target = models.CharField(
        _("target"),
        max_length=1000,
        help_text=_(
            "E-mail: addresses, separated by commas. Webhook: an http(s) URL. Chat: an "
            "apprise URL, e.g. slack://…, mmost://…, msteams://…."
        ),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        blank=True,
        help_text=_("Webhook only: the body is signed with it (X-AIXOps-Signature)."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language its alerts are written in. Empty: LANGUAGE_CODE."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    on_down = models.BooleanField(_("down"), default=True)
    on_degraded = models.BooleanField(_("degraded"), default=True)
    on_recovered = models.BooleanField(_("recovered"), default=True)
    on_update = models.BooleanField(_("incident updates"), default=True)
    categories = models.ManyToManyField(
        Category, blank=True, related_name="alert_channels", verbose_name=_("categories")
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="alert_channels", verbose_name=_("services")
    )
    data_stores = models.ManyToManyField(
        DataStore, blank=True, related_name="alert_channels", verbose_name=_("data stores")
    )
    declared = models.BooleanField(_("declared by settings"), default=False, editable=False)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("alert channel")
        verbose_name_plural = _("alert channels")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a target its kind cannot reach, naming what is wrong."""
        target = self.target.strip()
        if self.kind == self.Kind.EMAIL:
            for address in self.addresses():
                try:
                    validate_email(address)
                except ValidationError:
                    message = _("%(address)s is not an e-mail address.") % {"address": address}
                    raise ValidationError({"target": message}) from None
            if not self.addresses():
                raise ValidationError({"target": _("Give at least one e-mail address.")})
        elif self.kind == self.Kind.WEBHOOK:
            if target.startswith("/"):
                raise ValidationError({"target": _("Enter an absolute http(s) URL.")})
            try:
                validate_target(HealthCheck.Kind.HTTP, target)
            except ValidationError as error:
                raise ValidationError({"target": error.messages}) from None
        elif self.kind == self.Kind.APPRISE:
            # Imported here: loading apprise's plugins takes a while, and only channel
            # forms and deliveries need it.
            import apprise

            if not apprise.Apprise().add(target):
                raise ValidationError({"target": _("apprise does not read this URL.")})
            host = apprise_host(target)
            if host:
                try:
                    validate_host(host)
                except ValidationError as error:
                    raise ValidationError({"target": error.messages}) from None
        if self.secret and self.kind != self.Kind.WEBHOOK:
            raise ValidationError({"secret": _("Only webhooks are signed.")})

    @property
    def writes_in(self) -> str:
        return self.language or settings.LANGUAGE_CODE

    def addresses(self) -> list[str]:
        return [part.strip() for part in self.target.split(",") if part.strip()]

    def wants(self, alert: AlertEvent) -> bool:
        """Whether this channel hears of `alert` (subscriptions prefetched)."""
        if not getattr(self, f"on_{alert.event}"):
            return False
        categories = {category.pk for category in self.categories.all()}
        items = {service.slug for service in self.services.all()}
        items |= {store.slug for store in self.data_stores.all()}
        if not categories and not items:
            return True
        return alert.category_id in categories or bool(items & {alert.item, *alert.affected})

    @classmethod
    def sync_declared(cls) -> None:
        """Keep the channels the settings declare (ALERT_EMAIL_TO, ALERT_WEBHOOK_URL) in
        step with them: made or updated when set, disabled when no longer set."""
        declared = [
            ("ALERT_EMAIL_TO", cls.Kind.EMAIL, ", ".join(settings.ALERT_EMAIL_TO), ""),
            (
                "ALERT_WEBHOOK_URL",
                cls.Kind.WEBHOOK,
                settings.ALERT_WEBHOOK_URL,
                settings.ALERT_WEBHOOK_SECRET,
            ),
        ]
        for name, kind, target, secret in declared:
            if target:
                cls.objects.update_or_create(
                    name=name,
                    defaults={
                        "kind": kind,
                        "target": target,
                        "secret": secret,
                        "enabled": True,
                        "declared": True,
                    },
                )
            else:
                cls.objects.filter(name=name, declared=True).update(enabled=False)


def apprise_host(url: str) -> str:
    """The host an apprise URL names, when it names one the way a web URL does (json://,
    form://, mmost://host/…); "" for service URLs made of tokens (slack://T/B/C)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host if "." in host or ":" in host or host == "localhost" else ""


class Delivery(models.Model):
    """One alert to one channel, and how that went: the delivery log.

    Written with the alert, in the scan's transaction; a Celery task (queued through the
    outbox) claims it with a conditional UPDATE before sending, so a task delivered twice
    sends once, and retries with backoff until ALERT_DELIVERY_ATTEMPTS are spent.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("waiting")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    alert = models.ForeignKey(
        AlertEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("alert")
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("channel")
    )
    state = models.CharField(
        _("outcome"), max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Held by the one task sending it; a claim older than the task's time limit belongs
    # to a worker that died, and the next delivery of the task takes it over.
    claimed_at = models.DateTimeField(_("being sent since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel"], name="delivery_once_per_channel")
        ]

    def __str__(self) -> str:
        return f"{self.alert} → {self.channel} ({self.state})"
