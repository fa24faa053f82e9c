"""What every page's top bar shows of the catalog: the category links."""

from django.utils.functional import SimpleLazyObject

from .models import Category


def catalog_nav(request) -> dict:
    """The categories the top bar links, for readers who may open them; read only if the
    page shows them (a catalog page passes its own, already cached)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_approved:
        return {"nav_categories": ()}
    return {
        "nav_categories": SimpleLazyObject(
            lambda: list(Category.objects.values_list("slug", "name"))
        )
    }
