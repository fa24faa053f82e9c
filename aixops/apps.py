from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AixopsConfig(AppConfig):
    """What every room of the portal shares: the outbox, the base template and assets."""

    default = True
    name = "aixops"
    verbose_name = _("Platform")


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the portal's admin site (aixops.admin_site)."""

    default = False
    default_site = "aixops.admin_site.PortalAdminSite"
