"""Liveness and readiness probes for the orchestrator; no sign-in, no SSL redirect."""

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

PROBE_TIMEOUT_SECONDS = 2


@require_GET
@never_cache
def healthz(request):
    """The process is alive and serving; touches nothing else."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request):
    """Ready when the database and Redis answer: 200 with each part's result, else 503."""
    parts = {"database": _probe(_database), "redis": _probe(_redis)}
    ready = all(part["ok"] for part in parts.values())
    return JsonResponse(
        {"status": "ok" if ready else "fail", "checks": parts}, status=200 if ready else 503
    )


def _probe(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # any failure means "not ready"; say which
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:200]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis() -> None:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
