from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.access import member_required

from .pages import category_part, home_part
from .selectors import category_overview, health_report, home_categories, incidents_report


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


@require_safe
@member_required(api=True)
def api_categories(request):
    categories = [
        {
            "slug": category.slug,
            "name": category.name,
            "title": category.title,
            "summary": category.summary,
            "url": request.build_absolute_uri(category.get_absolute_url()),
            "counts": {
                "visible_apps": category.visible_count,
                "hidden_apps": category.hidden_count,
                "supporting": category.supporting_count,
                "data_stores": category.data_store_count,
                "checklist_items": category.checklist_count,
                "access_touchpoints": category.touchpoint_count,
            },
        }
        for category in home_categories()
    ]
    return JsonResponse({"categories": categories})


@require_safe
@member_required(api=True)
def api_category(request, slug):
    try:
        overview = category_overview(slug=slug, show_hidden=request.user.is_staff)
    except Http404:
        return JsonResponse({"error": "no such category"}, status=404)
    return JsonResponse(overview.as_dict(), json_dumps_params={"ensure_ascii": False})


@require_safe
@member_required(api=True)
def api_health(request):
    return JsonResponse(
        health_report(show_hidden=request.user.is_staff), json_dumps_params={"ensure_ascii": False}
    )


@require_safe
@member_required(api=True)
def api_incidents(request):
    return JsonResponse(
        incidents_report(show_hidden=request.user.is_staff),
        json_dumps_params={"ensure_ascii": False},
    )
