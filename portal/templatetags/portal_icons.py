"""The icon next to a service's name (portal.icons), for portal/_service_icon.html."""

from django import template

from ..icons import Icon, icon_of

register = template.Library()


@register.filter
def service_icon(service) -> Icon:
    return icon_of(service)
