from django.urls import path

from . import views
from .oidc.views import PortalLogoutView

app_name = "accounts"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("break-glass/", views.BreakGlassLoginView.as_view(), name="break-glass"),
    path("logout/", PortalLogoutView.as_view(), name="logout"),
    path("signed-out/", views.signed_out, name="signed-out"),
    path("tokens/", views.api_tokens, name="api-tokens"),
    path("tokens/new/", views.create_api_token, name="create-api-token"),
    path("tokens/<int:pk>/revoke/", views.revoke_api_token, name="revoke-api-token"),
]
