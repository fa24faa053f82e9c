from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from aixops.metrics import register_domain_collector

        from . import signals
        from .metrics import HealthCollector

        signals.connect()
        register_domain_collector(HealthCollector())
