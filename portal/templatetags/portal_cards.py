"""The health a scan changes on a category's page, written in Python (portal/cards.py)."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from portal.cards import HealthCards
from portal.diagram import map_columns, node_key
from portal.slots import slot

register = template.Library()


@register.simple_tag
def health_fragments(overview) -> SafeString:
    """Each service's and data store's card, and each map dot's status and its words, each
    right after its slot (portal/slots.py): thousands of fragments for a large category,
    which a template loop with a tag or an include per fragment writes several times
    slower."""
    cards = HealthCards()
    pieces = []
    # Slots told apart by an item's id or key alone are written from one format each.
    for kind, items in (("service", overview.services), ("store", overview.data_stores)):
        card_slot = slot("health", kind, "{}")
        for item in items:
            pieces += [card_slot.format(item.pk), cards.card(item)]
    # The map's dots from its items, in its order, without laying it out (only the
    # catalog part draws the map).
    dot = f"{slot('dot', '{0}')}{{1}}{slot('dot-label', '{0}')}{{2}}"  # key, status, words
    for _heading, kind, items in map_columns(overview.services, overview.data_stores):
        for item in items:
            status = cards.status(item.health)
            words = cards.label(item.health) or status
            pieces.append(dot.format(node_key(kind, item), status, words))
    # Slots are the templates' own words; cards and words are escaped as they are written.
    return mark_safe("".join(pieces))  # noqa: S308
