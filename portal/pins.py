"""Reads of a member's pinned tools for their home page; the pins themselves are changed
through `Pin.objects` (portal/models/pins.py)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from . import health
from .models import Pin, Service
from .visibility import Reader, item_visible


def pinned_services(*, user, reader: Reader) -> list[Service]:
    """The services `user` pinned that they (`reader`) may still see, in their order, each
    with its `category`, `health`, and the slugs of the shown pins above and below it
    (`pinned_above`, `pinned_below`: where its "Move up" and "Move down" put it).

    One query (the pinned services, their categories and their places), and one more for
    their checks when some are shown. Pins of services that are gone, hidden or limited
    away are left out, and kept."""
    pins = Pin.objects.filter(user=user)
    place = pins.filter(service_slug=OuterRef("slug")).values("position")[:1]
    services = (
        Service.objects.filter(slug__in=pins.values("service_slug"))
        .select_related("category")
        .annotate(pin_position=Subquery(place))
        .order_by("pin_position", "slug")
    )
    shown = [service for service in services if item_visible(service, service.category, reader)]
    if shown:
        checks = health.checks_with_maintenance().filter(service__in=[s.pk for s in shown])
        health.attach_health(shown, [], checks)
    slugs = ["", *(service.slug for service in shown), ""]
    for index, service in enumerate(shown, start=1):
        service.pinned_above, service.pinned_below = slugs[index - 1], slugs[index + 1]
    return shown
