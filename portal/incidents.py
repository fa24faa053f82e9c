"""Incidents: what admins say of an outage, told to the channels and kept as its trail.

Scans open and resolve incidents as their alerts say (portal/alerts.py); admins post
updates here, from the Admin UI. An update is append-only and names who posted it and
from where; it is also a line of the audit log stream (the `aixops.audit` logger, as
every audit event is), since the audit table records events about members.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aixops.observability import audit_line

from .alerts import deliveries_queue
from .models import AlertEvent, Incident, IncidentState, IncidentUpdate
from .state_cache import page_state_moved


def incident_post_update(
    *, incident: Incident, state: str, text: str, by=None, ip: str | None = None
) -> IncidentUpdate:
    """Post an admin's update: the incident moves to `state` (resolved: it is over), the
    update is kept in its timeline, and the channels hear of it. A resolved incident
    takes no more updates (ValidationError, nothing changed)."""
    text = text.strip()
    if not text:
        raise ValidationError(_("Say what is happening."))
    if state not in IncidentState.values:
        raise ValidationError(_("Choose a state."))
    now = timezone.now()
    changes = {"state": state, "changed_at": now}
    if state == IncidentState.RESOLVED:
        changes["resolved_at"] = now
    with transaction.atomic():
        # The claim: two admins resolving at once, or an update racing the recovery that
        # resolves it, leave exactly one of them to resolve it.
        if not Incident.objects.open().filter(pk=incident.pk).update(**changes):
            raise ValidationError(_("This incident is resolved; it takes no more updates."))
        update = IncidentUpdate.objects.create(
            incident=incident,
            state=state,
            text=text,
            at=now,
            by=by,
            by_name=by.get_username() if by is not None else "",
            client_ip=ip,
        )
        alert = AlertEvent.objects.create(
            event=AlertEvent.Event.UPDATE,
            status=state,
            category_id=incident.category_id,
            service_id=incident.service_id,
            data_store_id=incident.data_store_id,
            item=incident.cause,
            item_name=incident.title,
            cause=incident.cause,
            affected=incident.affected,
            detail=text[:500],
            at=now,
            incident=incident,
        )
        deliveries_queue([alert])
        # The banner on every page says the new state once this commits.
        page_state_moved()
    audit_line(
        "incident.update",
        actor=update.by_name or "system",
        incident_id=incident.pk,
        state=state,
        reason=text,
        client_ip=ip,
    )
    for field, value in changes.items():
        setattr(incident, field, value)
    return update
