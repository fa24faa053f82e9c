"""Probes answer without sign-in: /healthz does no I/O, /readyz checks the database and Redis."""

import socket

import pytest


def test_healthz_is_alive_without_touching_the_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_each_part(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis"}
    assert all(part["ok"] and part["latency_ms"] >= 0 for part in body["checks"].values())


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_readyz_fails_with_503_naming_redis_when_it_is_down(db, client, settings, closed_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"] == {"ok": False, "error": "redis: unreachable (ConnectionError)"}


def test_readyz_tells_anyone_what_failed_and_only_the_log_where(
    db, client, settings, closed_port, caplog
):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    body = client.get("/readyz").content.decode()
    assert str(closed_port) not in body and "127.0.0.1" not in body
    logged = [r.getMessage() for r in caplog.records if r.name == "aixops.probes"]
    assert len(logged) == 1 and f"127.0.0.1:{closed_port}" in logged[0]


def test_probes_are_exempt_from_the_ssl_redirect(db, client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 301
