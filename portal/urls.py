from django.urls import path, re_path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category_detail, name="category"),
    path("status/", views.status_page, name="status"),
    re_path(
        r"^badges/(?P<category>[-a-zA-Z0-9_]+)/(?P<item>[-a-zA-Z0-9_]+)/(?P<kind>status|uptime-(?:7|30|90)d)\.svg$",
        views.badge,
        name="badge",
    ),
    path("checklist/<int:pk>/run/", views.run_checklist_step, name="run-checklist-step"),
]
