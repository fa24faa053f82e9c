"""Probing checks: many at once on one asyncio loop, each within its own timeout.

No Django models here: a scan turns checks into `ProbeSpec`s, runs `probe_all`, and
records the `ProbeOutcome`s. That keeps the network part testable on its own and
lets the benchmark drive it without a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from .conditions import Answer, Condition

UP, DEGRADED, DOWN = "up", "degraded", "down"
# Conditions on [BODY] read at most this much of it.
BODY_LIMIT = 64 * 1024
USER_AGENT = "AIXOps-health/1.0"


@dataclass(frozen=True)
class ProbeSpec:
    """Everything needed to probe one check, free of the ORM."""

    key: int
    kind: str  # "http", "tcp", "redis" or "postgres"
    target: str
    timeout: float
    method: str = "GET"
    accepted: tuple[tuple[int, int], ...] = ((200, 399),)
    degraded_after_ms: float | None = None
    conditions: tuple[Condition, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe found: up, degraded (answered, but slowly) or down, and why."""

    key: int
    outcome: str
    latency_ms: float | None
    detail: str


async def probe_all(
    specs: Iterable[ProbeSpec], *, concurrency: int, deadline: float
) -> list[ProbeOutcome]:
    """Probe every spec, at most `concurrency` at a time, all within `deadline` seconds.

    A probe still running at the deadline is cancelled and reported down, so a scan
    always ends before its task's soft time limit, whatever the network does.
    """
    specs = list(specs)
    if not specs:
        return []
    gate = asyncio.Semaphore(concurrency)
    # One client for every HTTP probe, with no idle connections kept: a scan asks each
    # target once, so there is nothing to reuse, and httpcore checks every pooled
    # connection for every queued request, which made a 500-check scan burn seconds
    # of CPU once connections were kept alive (bench/scan.py). The pool is sized to
    # the concurrency. Environment proxies are ignored on purpose: probes of internal
    # hosts must go direct.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        limits=limits,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    ) as client:

        async def guarded(spec: ProbeSpec) -> ProbeOutcome:
            async with gate:
                return await probe_one(spec, client)

        tasks = {asyncio.create_task(guarded(spec)): spec for spec in specs}
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    outcomes = []
    for task, spec in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            outcomes.append(task.result())
        elif task in done and not task.cancelled():
            outcomes.append(ProbeOutcome(spec.key, DOWN, None, f"probe failed: {task.exception()}"))
        else:
            outcomes.append(
                ProbeOutcome(spec.key, DOWN, None, f"cut at the scan deadline ({deadline:g} s)")
            )
    return outcomes


async def probe_one(spec: ProbeSpec, client: httpx.AsyncClient | None = None) -> ProbeOutcome:
    """Probe one check within its timeout; never raises for network trouble."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(spec.timeout):
            if spec.kind == "http":
                answer = await _http(spec, client)
            elif spec.kind == "tcp":
                answer = await _tcp(spec)
            elif spec.kind == "redis":
                answer = await _redis(spec)
            elif spec.kind == "postgres":
                answer = await _postgres(spec)
            else:
                return ProbeOutcome(spec.key, DOWN, None, f"unknown kind of check {spec.kind!r}")
    except TimeoutError:
        return ProbeOutcome(spec.key, DOWN, None, f"no answer within {spec.timeout:g} s")
    except _Refused as error:
        return ProbeOutcome(spec.key, DOWN, _ms(started), str(error))
    except (OSError, httpx.HTTPError) as error:
        return ProbeOutcome(spec.key, DOWN, None, _describe(error))
    except Exception as error:  # a driver's own error type (redis, psycopg)
        return ProbeOutcome(spec.key, DOWN, None, _describe(error))
    latency = _ms(started)
    if spec.kind == "http":
        status, body = answer
        if not any(low <= status <= high for low, high in spec.accepted):
            return ProbeOutcome(spec.key, DOWN, latency, f"HTTP {status}")
        response = Answer(status=status, response_time_ms=latency, body=body)
        for condition in spec.conditions:
            if not condition.evaluate(response):
                return ProbeOutcome(spec.key, DOWN, latency, f"condition failed: {condition.text}")
        detail = f"HTTP {status}"
    else:
        detail = answer
    if spec.degraded_after_ms is not None and latency > spec.degraded_after_ms:
        return ProbeOutcome(
            spec.key,
            DEGRADED,
            latency,
            f"{detail}, slow: {latency:.0f} ms > {spec.degraded_after_ms:g} ms",
        )
    return ProbeOutcome(spec.key, UP, latency, detail)


class _Refused(Exception):
    """The target answered, but not as a healthy one would (e.g. Redis without PONG)."""


async def _http(spec: ProbeSpec, client: httpx.AsyncClient | None) -> tuple[int, bytes]:
    if not spec.target:
        raise _Refused("PLATFORM_BASE_URL is not set, so a relative URL cannot be probed")
    if client is None:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as own:
            return await _http(spec, own)
    wants_body = any(condition.placeholder == "BODY" for condition in spec.conditions)
    async with client.stream(spec.method, spec.target, timeout=spec.timeout) as response:
        body = b""
        if wants_body:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
        return response.status_code, body[:BODY_LIMIT]


async def _tcp(spec: ProbeSpec) -> str:
    parts = urlsplit(f"tcp://{spec.target}")
    _reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "connected"


async def _redis(spec: ProbeSpec) -> str:
    from redis import asyncio as aioredis

    client = aioredis.from_url(
        spec.target, socket_connect_timeout=spec.timeout, socket_timeout=spec.timeout
    )
    try:
        if await client.ping() is not True:
            raise _Refused("PING did not answer PONG")
    finally:
        await client.aclose()
    return "PONG"


async def _postgres(spec: ProbeSpec) -> str:
    import psycopg

    # libpq takes whole seconds, at least 2; the asyncio timeout around us is the real bound.
    connection = await psycopg.AsyncConnection.connect(
        spec.target, connect_timeout=max(2, math.ceil(spec.timeout)), autocommit=True
    )
    try:
        cursor = await connection.execute("SELECT 1")
        row = await cursor.fetchone()
        if row != (1,):
            raise _Refused(f"SELECT 1 returned {row!r}")
    finally:
        await connection.close()
    return "SELECT 1"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    return f"{type(error).__name__}: {text}"[:300]
