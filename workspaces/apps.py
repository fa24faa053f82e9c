from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = _("Workspaces")

    def ready(self) -> None:
        from aixops.admin_site import add_to_index
        from aixops.metrics import register_domain_collector

        from . import receivers
        from .metrics import WorkspacesCollector
        from .models import Workspace

        receivers.connect()
        register_domain_collector(WorkspacesCollector())
        add_to_index(
            "admin/workspaces/_index_attention.html",
            lambda request: {"workspace_attention": Workspace.objects.needing_attention()},
        )
