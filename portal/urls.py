from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category_detail, name="category"),
    path("api/categories/", views.api_categories, name="api-categories"),
    path("api/categories/<slug:slug>/", views.api_category, name="api-category"),
    path("api/health/", views.api_health, name="api-health"),
    path("api/incidents/", views.api_incidents, name="api-incidents"),
]
