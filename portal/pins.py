"""Reads of a member's pinned tools for their home page; the pins themselves are changed
through `Pin.objects` (portal/models/pins.py)."""

from __future__ import annotations

from dataclasses import dataclass

from . import health
from .models import Pin, Service
from .visibility import Reader, item_visible


@dataclass(frozen=True)
class PinnedTools:
    """What a member's home page shows of their pins."""

    # The pinned services they may see, in their order (see pinned_tools).
    shown: list[Service]
    # The slugs of the pinned services no longer in the catalog, in their order.
    gone: list[str]


def pinned_tools(*, user, reader: Reader) -> PinnedTools:
    """The services `user` pinned that they (`reader`) may still see, in their order, each
    with its `category`, `health`, and the slugs of the shown pins above and below it
    (`pinned_above`, `pinned_below`: where its "Move up" and "Move down" put it); and the
    pins whose services are gone from the catalog, which the page offers to remove.

    Their pinned slugs from the cache (Pin.objects.slugs_of: one query when missing); when
    there are some, one query for their services with their categories, and one more for
    the checks of those shown. Pins of services that
    are hidden or limited away are left out, and kept, as are gone ones until removed."""
    slugs = Pin.objects.slugs_of(user)
    if not slugs:
        return PinnedTools(shown=[], gone=[])
    services = {
        service.slug: service
        for service in Service.objects.filter(slug__in=slugs).select_related("category")
    }
    shown = [
        services[slug]
        for slug in slugs
        if slug in services and item_visible(services[slug], services[slug].category, reader)
    ]
    if shown:
        checks = health.checks_with_maintenance().filter(service__in=[s.pk for s in shown])
        health.attach_health(shown, [], checks)
    around = ["", *(service.slug for service in shown), ""]
    for index, service in enumerate(shown, start=1):
        service.pinned_above, service.pinned_below = around[index - 1], around[index + 1]
    return PinnedTools(shown=shown, gone=[slug for slug in slugs if slug not in services])
