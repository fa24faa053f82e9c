"""Liveness and readiness probes for the orchestrator; no sign-in, no SSL redirect."""

import logging
import time

import redis
from django.conf import settings
from django.db import OperationalError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

PROBE_TIMEOUT_SECONDS = 2

log = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request):
    """The process is alive and serving; touches nothing else."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request):
    """Ready when the database and Redis answer: 200 with each part's result, else 503."""
    parts = {"database": _probe("database", _database), "redis": _probe("redis", _redis)}
    ready = all(part["ok"] for part in parts.values())
    return JsonResponse(
        {"status": "ok" if ready else "fail", "checks": parts}, status=200 if ready else 503
    )


def _probe(part: str, check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # any failure means "not ready"; say which part and how
        # The message names hosts and ports (and may hold more); anyone can call /readyz,
        # so it goes to the log, and the answer says only what kind of failure it was.
        log.warning("readyz: %s failed: %s: %s", part, type(error).__name__, error)
        return {"ok": False, "error": f"{part}: {_reason(error)} ({type(error).__name__})"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _reason(error: Exception) -> str:
    if isinstance(error, TimeoutError | redis.TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionError | redis.ConnectionError | OperationalError):
        return "unreachable"
    return "failed"


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
