from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category_detail, name="category"),
    path("checklist/<int:pk>/run/", views.run_checklist_step, name="run-checklist-step"),
]
