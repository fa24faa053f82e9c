"""Prometheus figures about health: the last scan's age and result, each service's status.

Read from the database at scrape time, so every gunicorn worker reports the same figures.
"""

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from . import health
from .models import DataStore, Scan, Service
from .models.health import HealthStatus


class HealthCollector:
    def collect(self):
        scan = Scan.objects.finished().order_by("-finished_at", "-pk").first()
        age = GaugeMetricFamily(
            "aixops_last_scan_age_seconds", "Seconds since the last finished health scan."
        )
        checks = GaugeMetricFamily(
            "aixops_last_scan_checks",
            "Checks by status in the last finished health scan.",
            labels=["status"],
        )
        duration = GaugeMetricFamily(
            "aixops_last_scan_duration_seconds", "How long the last finished health scan took."
        )
        if scan is not None:
            age.add_metric([], (timezone.now() - scan.finished_at).total_seconds())
            for status in ("up", "degraded", "down", "maintenance", "unknown"):
                checks.add_metric([status], getattr(scan, status))
            duration.add_metric([], (scan.duration_ms or 0) / 1000)
        yield from (age, checks, duration)

        services = list(Service.objects.select_related("category"))
        stores = list(DataStore.objects.select_related("category"))
        health.attach_health(services, stores, health.checks_with_maintenance())
        status = GaugeMetricFamily(
            "aixops_item_status",
            "1 for the current health status of each service and data store.",
            labels=["category", "kind", "item", "status"],
        )
        latency = GaugeMetricFamily(
            "aixops_item_latency_seconds",
            "Latest probe latency of each service and data store.",
            labels=["category", "kind", "item"],
        )
        for kind, items in (("service", services), ("data_store", stores)):
            for item in items:
                labels = [item.category.slug, kind, item.slug]
                for value in HealthStatus.values:
                    status.add_metric([*labels, value], 1 if item.health.status == value else 0)
                if item.health.latency_ms is not None:
                    latency.add_metric(labels, item.health.latency_ms / 1000)
        yield from (status, latency)
