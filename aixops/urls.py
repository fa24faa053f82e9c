from django.contrib import admin
from django.urls import include, path, re_path

from accounts import views as accounts_views
from accounts.oidc.views import PortalLogoutView

from . import metrics, probes
from .api import build_api, no_such_endpoint

# The JSON API for scripts: each room's endpoints, described in /api/openapi.json.
api = build_api(["portal.api.router", "accounts.api.router"])

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # The admin's own password form would bypass Keycloak and the break-glass rules, and its
    # sign-out would leave the Keycloak session open.
    path("admin/login/", accounts_views.login),
    path("admin/logout/", PortalLogoutView.as_view()),
    path("admin/", admin.site.urls),
    # Before accounts/: the member's workspace page keeps the address it has always had.
    path("accounts/workspace/", include("workspaces.urls")),
    path("accounts/", include("accounts.urls")),
    path("oidc/", include("accounts.oidc.urls")),
    path("api/", api.urls),
    re_path(r"^api/", no_such_endpoint),
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),
    path("", include("portal.urls")),
]
