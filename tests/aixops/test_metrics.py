"""/metrics speaks Prometheus, only to its scraper, and adds up every gunicorn worker."""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from aixops.metrics import REQUESTS
from devtools.processes import free_port, listening, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "aixops/gunicorn.conf.py"]


def healthz_count(text: str) -> float:
    match = re.search(
        r'aixops_http_requests_total\{method="GET",status="200",view="healthz"\} ([\d.e+]+)', text
    )
    return float(match.group(1)) if match else 0.0


def test_scrape_needs_the_token_or_an_allowed_network(db, client, settings):
    settings.METRICS_TOKEN = "s3cret"
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_scrape_from_an_allowed_network(db, client, settings):
    import ipaddress

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_requests_are_counted_by_view_and_status(db, client, settings):
    settings.METRICS_TOKEN = "s3cret"
    before = REQUESTS.labels("GET", "healthz", "200")._value.get()
    for _ in range(3):
        client.get("/healthz")
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").text
    assert healthz_count(text) == before + 3
    assert "aixops_http_request_duration_seconds_bucket" in text



@contextmanager
def gunicorn(tmp_path, *, figures_dir=None):
    """The production gunicorn config serving a fresh database with two workers, and
    TMPDIR in `tmp_path`; figures in `figures_dir`, or in a directory of its own."""
    port = free_port()
    (tmp_path / "tmp").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "1",
        "METRICS_TOKEN": "s3cret",
        "DATA_DIR": str(tmp_path),
        "TMPDIR": str(tmp_path / "tmp"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
    }
    if figures_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(figures_dir)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    server = subprocess.Popen(
        [*GUNICORN, "aixops.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("gunicorn to serve", lambda: listening(port))
        yield f"http://127.0.0.1:{port}", server
    finally:
        stop_process(server, grace=15)


@pytest.fixture
def gunicorn_two_workers(tmp_path):
    with gunicorn(tmp_path, figures_dir=tmp_path / "prometheus") as (base, _server):
        yield base, tmp_path / "prometheus"


def test_counts_add_up_across_gunicorn_workers(gunicorn_two_workers):
    base, figures_dir = gunicorn_two_workers

    def hit(_):
        # A new connection each time, so both workers answer some of them.
        response = httpx.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=5)
        assert response.status_code == 200
        return response

    auth = {"Authorization": "Bearer s3cret"}
    before = healthz_count(httpx.get(f"{base}/metrics", headers=auth, timeout=5).text)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(hit, range(60)))
    for _ in range(6):
        text = httpx.get(f"{base}/metrics", headers=auth, timeout=5).text
        # The same total whichever worker answers the scrape.
        assert healthz_count(text) == before + 60
    # Each worker keeps its own counter file: both answered, and both were added up.
    counter_files = {path.name for path in figures_dir.glob("counter_*.db")}
    assert len(counter_files) == 2, counter_files


def metric_value(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text, or None if it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        sample_name, _, sample_labels = sample.partition("{")
        found = ",".join(sorted(sample_labels.rstrip("}").split(","))) if sample_labels else ""
        if sample_name == name and found == wanted:
            return float(value)
    return None


def test_domain_figures_come_from_the_database(
    catalog, client, settings, alice, bob, carol, dave, erin
):
    from portal.models import Category, HealthCheck
    from tests.factories import make_checks, make_finished_scan
    from workspaces.models import Workspace

    settings.METRICS_TOKEN = "s3cret"
    Workspace.objects.create(
        owner=bob, status=Workspace.Status.ACTIVE, quota_gib=1, usage_bytes=2 * 1024**3
    )
    make_checks(Category.objects.get(slug="devops"), latency_ms=40.0)
    HealthCheck.objects.filter(service__slug="jenkins").update(status="down", latency_ms=None)
    make_finished_scan(checked=9, up=8, down=1)

    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").text
    assert metric_value(text, "aixops_members", state="approved") == 2  # alice, bob
    assert metric_value(text, "aixops_members", state="pending") == 1
    assert metric_value(text, "aixops_members", state="rejected") == 1
    assert metric_value(text, "aixops_members", state="suspended") == 1
    assert metric_value(text, "aixops_workspaces", status="active") == 1
    assert metric_value(text, "aixops_workspaces", status="failed") == 0
    assert metric_value(text, "aixops_workspaces_over_quota") == 1
    assert 0 <= metric_value(text, "aixops_last_scan_age_seconds") < 60
    assert metric_value(text, "aixops_last_scan_checks", status="down") == 1
    assert metric_value(text, "aixops_last_scan_checks", status="up") == 8
    item = {"category": "devops", "kind": "service"}
    assert metric_value(text, "aixops_item_status", **item, item="jenkins", status="down") == 1
    assert metric_value(text, "aixops_item_status", **item, item="jenkins", status="up") == 0
    assert metric_value(text, "aixops_item_status", **item, item="gitlab", status="up") == 1
    assert metric_value(text, "aixops_item_latency_seconds", **item, item="gitlab") > 0.039
    assert metric_value(text, "aixops_item_latency_seconds", **item, item="jenkins") is None


def test_no_scan_yet_leaves_the_scan_figures_out(db, client, settings):
    settings.METRICS_TOKEN = "s3cret"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").text
    assert metric_value(text, "aixops_last_scan_age_seconds") is None
    assert "# HELP aixops_last_scan_age_seconds" in text


def test_a_failing_collector_does_not_fail_the_scrape(db, client, settings, monkeypatch):
    from portal.metrics import HealthCollector

    def broken(self):
        raise RuntimeError("database is down")

    monkeypatch.setattr(HealthCollector, "collect", broken)
    settings.METRICS_TOKEN = "s3cret"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    assert metric_value(response.text, "aixops_collector_up", collector="HealthCollector") == 0
    assert metric_value(response.text, "aixops_collector_up", collector="AccountsCollector") == 1
    assert metric_value(response.text, "aixops_members", state="approved") == 0


@pytest.mark.parametrize("option", ["--print-config", "--check-config"])
def test_reading_gunicorn_config_leaves_nothing_in_the_temporary_directory(tmp_path, option):
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp_path)
    for _ in range(2):
        subprocess.run(
            [*GUNICORN, option, "aixops.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    assert list(tmp_path.iterdir()) == []


def test_gunicorn_removes_its_own_figures_directory_when_it_stops(tmp_path):
    with gunicorn(tmp_path) as (base, server):
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        (figures_dir,) = (tmp_path / "tmp").glob("aixops-prometheus-*")
        assert list(figures_dir.glob("counter_*.db"))  # the workers count in it
    assert server.returncode == 0
    assert list((tmp_path / "tmp").iterdir()) == []
