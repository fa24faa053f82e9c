from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from aixops.admin_site import add_to_index
        from aixops.metrics import register_domain_collector

        from . import permissions
        from .metrics import AccountsCollector
        from .models import User

        register_domain_collector(AccountsCollector())
        permissions.connect()
        add_to_index(
            "admin/accounts/_index_pending.html",
            lambda request: {
                "pending_members": User.objects.filter(membership=User.Membership.PENDING).count()
            },
        )
