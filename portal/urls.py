from django.urls import path, re_path

from . import views
from .status import BADGE_WINDOWS

# status.svg, uptime-7d.svg, uptime-30d.svg, …
BADGE_KINDS = "|".join(["status", *(f"uptime-{days}d" for days in BADGE_WINDOWS)])

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category_detail, name="category"),
    path("status/", views.status_page, name="status"),
    path("search/", views.search_page, name="search"),
    path("live/", views.live_status, name="live-home"),
    path("live/categories/<slug:slug>/", views.live_status, name="live-category"),
    re_path(
        rf"^badges/(?P<category>[-a-zA-Z0-9_]+)/(?P<item>[-a-zA-Z0-9_]+)/(?P<kind>{BADGE_KINDS})\.svg$",
        views.badge,
        name="badge",
    ),
    path("checklist/<int:pk>/run/", views.run_checklist_step, name="run-checklist-step"),
    path("pins/remove-gone/", views.unpin_gone, name="unpin-gone"),
    path("pins/<slug:slug>/pin/", views.pin_service, name="pin"),
    path("pins/<slug:slug>/unpin/", views.unpin_service, name="unpin"),
    path("pins/<slug:slug>/move/", views.move_pin, name="move-pin"),
]
