"""Tags for the page shell (portal/shell.py) in templates that extend portal/base.html."""

from django import template

from .. import pages, shell

register = template.Library()


@register.simple_tag
def page_assets():
    return shell.page_assets()


@register.simple_tag(takes_context=True)
def page_header(context):
    """The top bar of a page outside the catalog cache (My workspace, sign-in, membership
    pages): the category links too, for readers who may open the categories."""
    request = context["request"]
    user = request.user
    nav = pages.category_nav() if user.is_authenticated and user.is_approved else ""
    return shell.page_header(request, nav)
