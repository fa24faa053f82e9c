"""Prometheus figures about people: members by membership state, workspaces by status.

Read from the database at scrape time, so every gunicorn worker reports the same totals.
"""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from .models import User, Workspace


class AccountsCollector:
    def collect(self):
        yield _counted(
            GaugeMetricFamily(
                "aixops_members", "Portal members by membership state.", labels=["state"]
            ),
            User.objects,
            "membership",
            User.Membership.values,
        )
        yield _counted(
            GaugeMetricFamily(
                "aixops_workspaces", "Personal workspaces by status.", labels=["status"]
            ),
            Workspace.objects,
            "status",
            Workspace.Status.values,
        )

        over_quota = Workspace.objects.over_quota().count()
        yield GaugeMetricFamily(
            "aixops_workspaces_over_quota",
            "Workspaces whose measured usage exceeds their quota.",
            value=over_quota,
        )


def _counted(family: GaugeMetricFamily, rows, field: str, values) -> GaugeMetricFamily:
    """`family` with the number of rows for each of `values` of `field`, counted in one
    query; a value no row has is reported as 0."""
    counts = dict(rows.values_list(field).annotate(n=Count("pk")).order_by())
    for value in values:
        family.add_metric([value], counts.get(value, 0))
    return family
