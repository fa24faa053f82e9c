"""mozilla-django-oidc's URLs and names, with the portal's views, plus back-channel logout."""

from django.urls import path

from .sessions import backchannel_logout
from .views import PortalAuthenticationRequestView, PortalCallbackView, PortalLogoutView

urlpatterns = [
    path(
        "authenticate/", PortalAuthenticationRequestView.as_view(), name="oidc_authentication_init"
    ),
    path("callback/", PortalCallbackView.as_view(), name="oidc_authentication_callback"),
    path("logout/", PortalLogoutView.as_view(), name="oidc_logout"),
    path("backchannel-logout/", backchannel_logout, name="oidc_backchannel_logout"),
]
