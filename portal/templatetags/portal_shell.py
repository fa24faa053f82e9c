"""Tags for the page shell (portal/shell.py) in templates that extend portal/base.html."""

from django import template

from .. import shell

register = template.Library()


@register.simple_tag
def page_assets():
    return shell.page_assets()


@register.simple_tag(takes_context=True)
def page_header(context, nav=""):
    return shell.page_header(context["request"], nav)
