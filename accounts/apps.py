from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from aixops.metrics import register_domain_collector

        from . import signals
        from .metrics import AccountsCollector

        register_domain_collector(AccountsCollector())
        signals.connect()


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the portal's admin site (accounts.admin_site)."""

    default = False
    default_site = "accounts.admin_site.PortalAdminSite"
