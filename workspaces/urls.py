from django.urls import path

from . import views

app_name = "workspaces"

urlpatterns = [
    path("", views.my_workspace, name="mine"),
    path("request/", views.request_workspace, name="request"),
    path("start/", views.start_workspace, name="start"),
]
