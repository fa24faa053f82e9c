"""Probing checks: many at once on one asyncio loop, each within its own timeout.

No Django models here: a scan turns checks into `ProbeSpec`s, runs `probe_all`, and
records the `ProbeOutcome`s. That keeps the network part testable on its own and
lets the benchmark drive it without a database.

Every probe looks its host up once, refuses it when any address the host has is in a
denied network (HEALTH_CHECK_DENY_NETWORKS), and connects to the address it vetted,
never to the name again: a second DNS answer (DNS rebinding) cannot steer it. The one
exception is rediss://, whose client checks the server's certificate against the name
it connects to and so is given the name: a DNS answer that changed in between could
reach a denied address, but (certificates verified, redis-py's default) fails the TLS
handshake there before any command is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, quote, unquote, urlsplit

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict
from redis import asyncio as aioredis

from .conditions import Answer, Condition
from .targets import refusal

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
    specs: Iterable[ProbeSpec], *, concurrency: int, deadline: float, deny: Sequence
) -> list[ProbeOutcome]:
    """Probe every spec, at most `concurrency` at a time, all within `deadline` seconds,
    none to an address in the `deny` networks.

    A probe still running at the deadline is cancelled and reported down, so a scan
    always ends before its task's soft time limit, whatever the network does.
    """
    specs = list(specs)
    if not specs:
        return []
    gate = asyncio.Semaphore(concurrency)
    # One client for every HTTP probe, with no idle connections kept: a scan asks each
    # target once, so there is nothing to reuse, and httpcore checks every pooled
    # connection for every queued request, which costs a large scan its CPU once
    # connections are kept alive (bench/scan.py shows it). The pool is sized to
    # the concurrency. Environment proxies are ignored on purpose: probes of internal
    # hosts must go direct. Without kept connections, none made for one host name is
    # reused for another that has the same address (probes connect by address).
    # Redirects are not followed: a probe reports the 3xx it got.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        limits=limits,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    ) as client:

        async def guarded(spec: ProbeSpec) -> ProbeOutcome:
            async with gate:
                return await probe_one(spec, client, deny=deny)

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


async def probe_one(
    spec: ProbeSpec, client: httpx.AsyncClient | None = None, *, deny: Sequence
) -> ProbeOutcome:
    """Probe one check within its timeout, unless its host has an address in one of the
    `deny` networks; never raises for network trouble."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(spec.timeout):
            if spec.kind == "http":
                answer = await _http(spec, client, deny)
            elif spec.kind == "tcp":
                answer = await _tcp(spec, deny)
            elif spec.kind == "redis":
                answer = await _redis(spec, deny)
            elif spec.kind == "postgres":
                answer = await _postgres(spec, deny)
            else:
                return ProbeOutcome(spec.key, DOWN, None, f"unknown kind of check {spec.kind!r}")
    except TimeoutError:
        return ProbeOutcome(spec.key, DOWN, None, f"no answer within {spec.timeout:g} s")
    except _Denied as error:
        return ProbeOutcome(spec.key, DOWN, None, str(error))
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


class _Denied(Exception):
    """The target may not be probed; nothing was sent to it."""


async def _vetted_address(host: str, deny: Sequence) -> str:
    """The address to connect to for `host`, looked up once; _Denied when any address
    the host has is in one of the `deny` networks."""
    if not host:
        raise _Denied("refused: the target has no host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        # getaddrinfo also reads odd spellings of addresses (2852039166, 0xa9fea9fe).
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found]
    reason = refusal(host, addresses, deny)
    if reason:
        raise _Denied(reason)
    return str(addresses[0])


async def _http(
    spec: ProbeSpec, client: httpx.AsyncClient | None, deny: Sequence
) -> tuple[int, bytes]:
    if not spec.target:
        raise _Refused("PLATFORM_BASE_URL is not set, so a relative URL cannot be probed")
    if client is None:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as own:
            return await _http(spec, own, deny)
    url = httpx.URL(spec.target)
    if url.userinfo:
        raise _Denied("refused: the URL carries credentials")
    host = url.raw_host.decode("ascii")
    address = await _vetted_address(host, deny)
    wants_body = any(condition.placeholder == "BODY" for condition in spec.conditions)
    # To the vetted address, with the name in the Host header, in TLS's SNI and in the
    # certificate check (httpx's sni_hostname request extension).
    async with client.stream(
        spec.method,
        url.copy_with(host=address),
        headers={"Host": url.netloc.decode("ascii")},
        extensions={"sni_hostname": host},
        timeout=spec.timeout,
    ) as response:
        body = b""
        if wants_body:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
        return response.status_code, body[:BODY_LIMIT]


async def _tcp(spec: ProbeSpec, deny: Sequence) -> str:
    parts = urlsplit(f"tcp://{spec.target}")
    address = await _vetted_address(parts.hostname or "", deny)
    _reader, writer = await asyncio.open_connection(address, parts.port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "connected"


async def _redis(spec: ProbeSpec, deny: Sequence) -> str:
    parts = urlsplit(spec.target)
    # As redis-py reads it: the host percent-decoded; the URL's host wins over ?host=.
    host = unquote(parts.hostname or "")
    address = await _vetted_address(host, deny)
    url = _with_host(parts, host if parts.scheme == "rediss" else address)
    client = aioredis.from_url(
        url, socket_connect_timeout=spec.timeout, socket_timeout=spec.timeout
    )
    try:
        if await client.ping() is not True:
            raise _Refused("PING did not answer PONG")
    finally:
        await client.aclose()
    return "PONG"


def _with_host(parts: SplitResult, host: str) -> str:
    """The URL `parts` with its host replaced, credentials and port kept."""
    credentials, _at, _host_port = parts.netloc.rpartition("@")
    netloc = f"[{host}]" if ":" in host else quote(host, safe="")
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if credentials:
        netloc = f"{credentials}@{netloc}"
    return parts._replace(netloc=netloc).geturl()


async def _postgres(spec: ProbeSpec, deny: Sequence) -> str:
    # As libpq reads it: ?host= wins over the URL's host, and hostaddr (an address)
    # is where it connects, the host then serving for TLS and the password file only.
    params = conninfo_to_dict(spec.target)
    address = await _vetted_address(params.get("hostaddr") or params.get("host", ""), deny)
    # libpq takes whole seconds, at least 2; the asyncio timeout around us is the real bound.
    connection = await psycopg.AsyncConnection.connect(
        spec.target,
        hostaddr=address,
        connect_timeout=max(2, math.ceil(spec.timeout)),
        autocommit=True,
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
