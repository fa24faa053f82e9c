"""What a category's page repeats per item, written in Python (portal/catalog_html.py),
for portal/_category_body.html and portal/_architecture_map.html: `catalog_html` makes
the page's writer, the other tags write with it."""

from django import template
from django.utils.safestring import SafeString

from portal.catalog_html import CatalogHtml
from portal.diagram import ArchitectureMap

register = template.Library()


@register.simple_tag
def catalog_html(overview, staff) -> CatalogHtml:
    """The writer of a page's repeated parts: `{% catalog_html overview staff as catalog %}`."""
    return CatalogHtml(overview.category, staff=staff, icons=overview.icons)


@register.simple_tag
def service_cards(catalog: CatalogHtml, services) -> SafeString:
    return catalog.service_cards(services)


@register.simple_tag
def store_cards(catalog: CatalogHtml, stores) -> SafeString:
    return catalog.store_cards(stores)


@register.simple_tag
def components(catalog: CatalogHtml, services) -> SafeString:
    return catalog.components(services)


@register.simple_tag
def map_headings(catalog: CatalogHtml, architecture_map: ArchitectureMap) -> SafeString:
    return catalog.map_headings(architecture_map)


@register.simple_tag
def map_edges(catalog: CatalogHtml, architecture_map: ArchitectureMap) -> SafeString:
    return catalog.map_edges(architecture_map)


@register.simple_tag
def map_nodes(catalog: CatalogHtml, architecture_map: ArchitectureMap) -> SafeString:
    return catalog.map_nodes(architecture_map)
