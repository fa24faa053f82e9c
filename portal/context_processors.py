"""What every page's top bar shows of the catalog: the category links."""

from django.utils.functional import SimpleLazyObject

from .models import Category
from .visibility import reader_for


def catalog_nav(request) -> dict:
    """The categories the top bar links, for readers who may open them, those they may see
    only; read only if the page shows them (a catalog page passes its own, already cached)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_approved:
        return {"nav_categories": ()}

    def categories():
        rows = list(Category.objects.values_list("slug", "name", "visible_to_groups"))
        # Only the categories' own limits decide which are linked.
        reader = reader_for(user, paths=frozenset(path for *_, groups in rows for path in groups))
        return [(slug, name) for slug, name, groups in rows if reader.may_see(groups)]

    return {"nav_categories": SimpleLazyObject(categories)}
