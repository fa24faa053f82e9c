"""The `slot` tag: where a fragment rendered per scan goes in a cached page (portal/slots.py)."""

from django import template

from portal import slots

register = template.Library()

register.simple_tag(slots.slot, name="slot")
