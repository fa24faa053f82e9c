"""Prometheus figures about workspaces: by status, and over quota.

Read from the database at scrape time, so every gunicorn worker reports the same totals.
"""

from prometheus_client.core import GaugeMetricFamily

from aixops.metrics import counted_by

from .models import Workspace


class WorkspacesCollector:
    def collect(self):
        yield counted_by(
            "aixops_workspaces",
            "Personal workspaces by status.",
            Workspace.objects,
            "status",
            Workspace.Status.values,
            label="status",
        )
        yield GaugeMetricFamily(
            "aixops_workspaces_over_quota",
            "Workspaces whose measured usage exceeds their quota.",
            value=Workspace.objects.over_quota().count(),
        )
