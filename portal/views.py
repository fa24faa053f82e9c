from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.access import member_required

from .pages import category_part, home_part


@require_safe
@member_required
def home(request):
    part = home_part()
    return render(request, "portal/page.html", {"page": part, "nav_categories": part.nav})


@require_safe
@member_required
def category_detail(request, slug):
    part = category_part(slug=slug, show_hidden=request.user.is_staff)
    return render(
        request,
        "portal/page.html",
        {"page": part, "nav_categories": part.nav, "current_category": slug},
    )
