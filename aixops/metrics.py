"""Prometheus metrics at /metrics: request figures, plus what apps report about their domain.

Under gunicorn every worker counts its own requests; with PROMETHEUS_MULTIPROC_DIR set
(aixops/gunicorn.conf.py does) the workers write their figures to files there and a
scrape adds them up, so the totals are right whichever worker answers the scrape.
Domain figures (members, scans, …) are read from the database at scrape time by
collectors that apps register, so they need no cross-process bookkeeping at all.
"""

import hmac
import logging
import os
import time

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# A multiprocess directory that does not exist would make every request fail when it
# records its figures; make it rather than let a metrics setting take the portal down.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from .networks import address_in

REQUESTS = Counter(
    "aixops_http_requests_total",
    "HTTP requests answered, by method, view and status code.",
    ["method", "view", "status"],
)
REQUEST_SECONDS = Histogram(
    "aixops_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

logger = logging.getLogger(__name__)

_domain_collectors: list = []


def register_domain_collector(collector) -> None:
    """Add a collector (an object with `collect()`) whose figures come from the database."""
    if collector not in _domain_collectors:
        _domain_collectors.append(collector)


class RequestMetricsMiddleware:
    """Counts and times every request, labelled by view name so the label set stays small."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unmatched"
        REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(request.method, view).observe(time.perf_counter() - started)
        return response


@require_safe
@never_cache
def metrics_view(request):
    if not scrape_allowed(request):
        return HttpResponseForbidden("metrics: token or allowed network required\n")
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


def scrape() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_figures = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_figures)
    else:
        process_figures = REGISTRY
    domain_figures = CollectorRegistry()
    domain_figures.register(_DomainCollectors(_domain_collectors))
    return generate_latest(process_figures) + generate_latest(domain_figures)


class _DomainCollectors:
    """Runs each domain collector; one that fails (the database is down, say) is reported
    as `aixops_collector_up 0` instead of failing the whole scrape, so the request
    figures still reach Prometheus when they matter most."""

    def __init__(self, collectors):
        self.collectors = collectors

    def collect(self):
        up = GaugeMetricFamily(
            "aixops_collector_up",
            "1 if a domain collector ran at this scrape.",
            labels=["collector"],
        )
        for collector in self.collectors:
            name = type(collector).__name__
            try:
                families = list(collector.collect())
            except Exception:
                logger.exception("metrics collector %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def counted_by(
    name: str, documentation: str, rows, field: str, values, *, label: str
) -> GaugeMetricFamily:
    """A gauge with the number of `rows` for each of `values` of `field` (as `label`),
    counted in one query; a value no row has is reported as 0."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    counts = dict(rows.values_list(field).annotate(n=Count("pk")).order_by())
    for value in values:
        family.add_metric([value], counts.get(value, 0))
    return family


def scrape_allowed(request) -> bool:
    """A matching bearer token, or a client address inside METRICS_ALLOWED_NETWORKS."""
    token = settings.METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if offered and hmac.compare_digest(offered.encode(), token.encode()):
            return True
    return address_in(request.META.get("REMOTE_ADDR"), settings.METRICS_ALLOWED_NETWORKS)
