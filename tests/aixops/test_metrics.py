"""/metrics speaks Prometheus, only to its scraper, and adds up every gunicorn worker."""

import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from aixops.metrics import REQUESTS

ROOT = Path(__file__).resolve().parents[2]


def healthz_count(text: str) -> float:
    match = re.search(
        r'aixops_http_requests_total\{method="GET",status="200",view="healthz"\} ([\d.e+]+)', text
    )
    return float(match.group(1)) if match else 0.0


def test_scrape_needs_the_token_or_an_allowed_network(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_scrape_from_an_allowed_network(client, settings):
    import ipaddress

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_requests_are_counted_by_view_and_status(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    before = REQUESTS.labels("GET", "healthz", "200")._value.get()
    for _ in range(3):
        client.get("/healthz")
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").text
    assert healthz_count(text) == before + 3
    assert "aixops_http_request_duration_seconds_bucket" in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_two_workers(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "1",
        "METRICS_TOKEN": "s3cret",
        "DATA_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "aixops/gunicorn.conf.py", "aixops.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(server.stderr.read().decode()[-2000:]) from None
                time.sleep(0.2)
        yield base, tmp_path / "prometheus"
    finally:
        server.terminate()
        server.wait(timeout=15)


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
