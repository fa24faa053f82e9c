"""The `health_card` tag: a service's or data store's health card (portal/cards.py)."""

from django import template

from portal.cards import HealthCards

register = template.Library()


@register.simple_tag(takes_context=True)
def health_card(context, item):
    """The card of `item`; one HealthCards per template render, shared by its cards."""
    # render_context is the template's own, not shared between threads or renders.
    cards = context.render_context.get(HealthCards)
    if cards is None:
        cards = context.render_context[HealthCards] = HealthCards()
    return cards.card(item)
