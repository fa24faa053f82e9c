"""Sending alerts to channels: e-mail, signed webhooks, and apprise for chat.

`delivery_attempt` is what the delivery task calls: it claims the delivery row with a
conditional UPDATE (so a task delivered twice, or two workers, send it once), sends, and
records the outcome. `channel_test` sends a made-up alert at once, for the admin's
*Send test*.

Webhooks connect only to an address vetted against HEALTH_CHECK_DENY_NETWORKS, looked up
once (as probes do, portal/probes.py), with the name in the Host header and TLS's SNI:
a refused target is refused before any connection. Apprise makes its own connections;
a URL naming a host the way a web URL does is refused when that host resolves into a
denied network, which DNS answers that change between the check and apprise's own
lookup could get around.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import AlertEvent, Category, Channel, Delivery, HealthStatus
from .models.alerts import apprise_host
from .targets import refusal, resolve

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-AIXOps-Signature"
USER_AGENT = "AIXOps-alerts/1.0"
# A claim older than this belongs to a worker that died mid-send (the task's hard time
# limit is below it): the next delivery of the task takes the row over.
CLAIM_SECONDS = 300


class DeliveryError(Exception):
    """The channel did not take the alert; the message says why (kept as `last_error`)."""


def signature(secret: str, body: bytes) -> str:
    """The X-AIXOps-Signature header's value: `sha256=` and the hex HMAC-SHA256 of the
    body under the channel's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_attempt(delivery_id: int) -> str:
    """Claim and send one delivery; its state afterwards: `sent`, `failed` (attempts
    spent), `pending` (to be retried), or "" when it was not this call's to send (sent
    already, or being sent by another worker)."""
    now = timezone.now()
    claimable = Q(state=Delivery.State.PENDING) | Q(
        state=Delivery.State.SENDING, claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS)
    )
    claimed = Delivery.objects.filter(claimable, pk=delivery_id).update(
        state=Delivery.State.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return ""
    delivery = Delivery.objects.select_related("alert__category", "channel").get(pk=delivery_id)
    try:
        send(delivery.channel, delivery.alert)
    except DeliveryError as error:
        gives_up = delivery.attempts >= settings.ALERT_DELIVERY_ATTEMPTS
        state = Delivery.State.FAILED if gives_up else Delivery.State.PENDING
        log.warning("alert delivery %s to %s: %s", delivery.pk, delivery.channel, error)
        Delivery.objects.filter(pk=delivery.pk, claimed_at=now).update(
            state=state, claimed_at=None, last_error=str(error)[:1000]
        )
        return state
    Delivery.objects.filter(pk=delivery.pk, claimed_at=now).update(
        state=Delivery.State.SENT, claimed_at=None, sent_at=timezone.now(), last_error=""
    )
    return Delivery.State.SENT


def channel_test(channel: Channel) -> None:
    """Send `channel` a made-up alert now; DeliveryError says why it did not arrive."""
    category = Category.objects.order_by("position", "pk").first() or Category(slug="test")
    alert = AlertEvent(
        event="test",
        status=HealthStatus.UP,
        category=category,
        item="test",
        item_name="AIXOps",
        cause="test",
        detail="This is a test of the alert channel.",
        at=timezone.now(),
    )
    send(channel, alert)


def send(channel: Channel, alert: AlertEvent) -> None:
    """Send one alert to one channel, or raise DeliveryError."""
    try:
        {
            Channel.Kind.EMAIL: _email,
            Channel.Kind.WEBHOOK: _webhook,
            Channel.Kind.APPRISE: _apprise,
        }[channel.kind](channel, alert)
    except (OSError, httpx.HTTPError) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from None


def _text(channel: Channel, alert: AlertEvent) -> tuple[str, str]:
    """The subject and body of an alert, in the channel's language."""
    with translation.override(channel.writes_in):
        context = {"alert": alert, "url": alert.url}
        subject = render_to_string("portal/email/alert_subject.txt", context).strip()
        body = render_to_string("portal/email/alert_body.txt", context)
    return subject, body


def _email(channel: Channel, alert: AlertEvent) -> None:
    subject, body = _text(channel, alert)
    EmailMessage(subject, body, to=channel.addresses()).send()


def _webhook(channel: Channel, alert: AlertEvent) -> None:
    body = json.dumps(alert.payload(), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if channel.secret:
        headers[SIGNATURE_HEADER] = signature(channel.secret, body)
    url = httpx.URL(channel.target)
    if url.userinfo:
        raise DeliveryError("refused: the URL carries credentials")
    host = url.raw_host.decode("ascii")
    address = _vetted_address(host)
    # To the vetted address, with the name in the Host header, in TLS's SNI and in the
    # certificate check (httpx's sni_hostname request extension). Environment proxies
    # are ignored: the address was vetted, a proxy would connect elsewhere.
    with httpx.Client(
        trust_env=False, follow_redirects=False, timeout=settings.ALERT_WEBHOOK_TIMEOUT
    ) as client:
        response = client.post(
            url.copy_with(host=address),
            content=body,
            headers={**headers, "Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": host},
        )
    if not response.is_success:
        raise DeliveryError(f"HTTP {response.status_code}")


def _vetted_address(host: str) -> str:
    if not host:
        raise DeliveryError("refused: the URL has no host")
    try:
        addresses = resolve(host)
    except socket.gaierror as error:
        raise DeliveryError(f"cannot resolve {host}: {error}") from None
    reason = refusal(host, addresses, settings.HEALTH_CHECK_DENY_NETWORKS)
    if reason:
        raise DeliveryError(reason)
    return str(addresses[0])


def _apprise(channel: Channel, alert: AlertEvent) -> None:
    # Imported here: loading apprise's plugins takes a while, and only deliveries need it.
    import apprise

    host = apprise_host(channel.target)
    if host:
        try:
            addresses = resolve(host)
        except socket.gaierror:
            addresses = []  # apprise will say it cannot reach it
        reason = refusal(host, addresses, settings.HEALTH_CHECK_DENY_NETWORKS)
        if reason:
            raise DeliveryError(reason)
    notifier = apprise.Apprise()
    if not notifier.add(channel.target):
        raise DeliveryError("apprise does not read this URL")
    subject, body = _text(channel, alert)
    errors: list[str] = []
    sent = notifier.notify(
        body=body,
        title=subject,
        notify_type=_NOTIFY_TYPES.get(alert.event, apprise.NotifyType.INFO),
        log_callback=lambda entry, _plugin: errors.append(str(entry.message)),
        log_level=logging.WARNING,
    )
    if not sent:
        raise DeliveryError("; ".join(errors)[-1000:] or "apprise could not deliver it")


_NOTIFY_TYPES = {
    AlertEvent.Event.DOWN: "failure",
    AlertEvent.Event.DEGRADED: "warning",
    AlertEvent.Event.RECOVERED: "success",
}


def retry_pause(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones: 30 s, doubling, at most
    an hour."""
    return min(3600, 30 * 2 ** max(0, attempts - 1))
