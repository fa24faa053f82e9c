"""Prometheus figures about people: members by membership state, workspaces by status.

Read from the database at scrape time, so every gunicorn worker reports the same totals.
"""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from .models import User, Workspace


class AccountsCollector:
    def collect(self):
        members = GaugeMetricFamily(
            "aixops_members", "Portal members by membership state.", labels=["state"]
        )
        counts = dict(User.objects.values_list("membership").annotate(n=Count("pk")).order_by())
        for state in User.Membership.values:
            members.add_metric([state], counts.get(state, 0))
        yield members

        workspaces = GaugeMetricFamily(
            "aixops_workspaces", "Personal workspaces by status.", labels=["status"]
        )
        counts = dict(Workspace.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in Workspace.Status.values:
            workspaces.add_metric([status], counts.get(status, 0))
        yield workspaces

        over_quota = Workspace.objects.over_quota().count()
        yield GaugeMetricFamily(
            "aixops_workspaces_over_quota",
            "Workspaces whose measured usage exceeds their quota.",
            value=over_quota,
        )
