"""Probing checks: many at once on one asyncio loop, each within its own timeout.

No Django models here: a scan turns checks into `ProbeSpec`s, runs `probe_all`, and
records the `ProbeOutcome`s. That keeps the network part testable on its own and
lets the benchmark drive it without a database.

Every probe looks its host up once, refuses it when any address the host has is in a
denied network (HEALTH_CHECK_DENY_NETWORKS), and connects to the address it vetted,
never to the name again (portal/probe_net.py): a second DNS answer (DNS rebinding)
cannot steer it. The kinds that check single sign-on and Celery workers live in
portal/identity_probes.py and portal/worker_probes.py. The one exception is rediss://,
whose client checks the server's certificate against the name it connects to and so is
given the name: a DNS answer that changed in between could reach a denied address, but
(certificates verified, redis-py's default) fails the TLS handshake there before any
command is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import aiohttp
import psycopg
from psycopg.conninfo import conninfo_to_dict
from redis import asyncio as aioredis

from .conditions import Answer
from .identity_probes import probe_oidc, probe_sso_redirect
from .probe_net import (
    Denied,
    Finding,
    ProbeSpec,
    Refused,
    certificate_words,
    fetch,
    http_client,
    vetted_address,
    with_host,
)
from .worker_probes import probe_celery

UP, DEGRADED, DOWN = "up", "degraded", "down"
# How late a timeout may fire (at least; a quarter of the timeout if more) before the
# probe is tried again rather than reported down: an idle event loop fires within
# milliseconds.
LATE_BY = 0.25


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe found: up, degraded (answered, but slowly, with a certificate about
    to expire or with a warning of its kind) or down, and why."""

    key: int
    outcome: str
    latency_ms: float | None
    detail: str


async def probe_all(
    specs: Iterable[ProbeSpec], *, concurrency: int, deadline: float, deny: Sequence
) -> list[ProbeOutcome]:
    """Probe every spec, at most `concurrency` at a time, all within `deadline` seconds,
    none to an address in the `deny` networks; the outcomes in the order of the specs.

    A probe still running at the deadline is cancelled and reported down, and so is one
    not started by then, so a scan always ends before its task's soft time limit,
    whatever the network does.
    """
    specs = list(specs)
    if not specs:
        return []
    outcomes: list[ProbeOutcome | None] = [None] * len(specs)
    # `concurrency` workers take the specs in turn from one iterator, rather than a task
    # per spec each waiting its turn on a semaphore: creating, scheduling and waking
    # those tasks cost CPU for every probe.
    waiting = iter(enumerate(specs))
    # One session for every HTTP probe, its connections capped at the concurrency
    # (portal/probe_net.py says why none is kept). Redirects are not followed: a probe
    # reports the 3xx it got.
    async with http_client(concurrency=concurrency) as client:

        async def work() -> None:
            for index, spec in waiting:
                try:
                    outcomes[index] = await probe_one(spec, client, deny=deny)
                except Exception as error:
                    outcomes[index] = ProbeOutcome(spec.key, DOWN, None, f"probe failed: {error}")

        workers = [asyncio.create_task(work()) for _ in range(min(concurrency, len(specs)))]
        _done, running = await asyncio.wait(workers, timeout=deadline)
        # Taken from the iterator, the specs left are never started, even by a worker
        # whose probe swallowed its cancellation.
        for _spec in waiting:
            pass
        for worker in running:
            worker.cancel()
        if running:
            await asyncio.wait(running)
    cut = f"cut at the scan deadline ({deadline:g} s)"
    return [
        outcome if outcome is not None else ProbeOutcome(spec.key, DOWN, None, cut)
        for outcome, spec in zip(outcomes, specs, strict=True)
    ]


async def probe_one(
    spec: ProbeSpec,
    client: aiohttp.ClientSession | None = None,
    *,
    deny: Sequence,
    first_try: bool = True,
) -> ProbeOutcome:
    """Probe one check within its timeout, unless its host has an address in one of the
    `deny` networks; never raises for network trouble.

    A timeout that fired late (`_cut_late`) was this process's doing, not the target's:
    its CPU was taken (other probes, other processes), so an answer may have been waiting
    unread. Such a probe is tried once more, not reported down for it.
    """
    started = time.perf_counter()
    kind = _KINDS.get(spec.kind)
    if kind is None:
        return ProbeOutcome(spec.key, DOWN, None, f"unknown kind of check {spec.kind!r}")
    try:
        async with asyncio.timeout(spec.timeout):
            if client is None and spec.kind in HTTP_KINDS:
                async with http_client(concurrency=1) as own:
                    finding = await kind(spec, own, deny)
            else:
                finding = await kind(spec, client, deny)
    except TimeoutError:
        if first_try and _cut_late(spec.timeout, started):
            return await probe_one(spec, client, deny=deny, first_try=False)
        return ProbeOutcome(spec.key, DOWN, None, f"no answer within {spec.timeout:g} s")
    except Denied as error:
        return ProbeOutcome(spec.key, DOWN, None, str(error))
    except Refused as error:
        return ProbeOutcome(spec.key, DOWN, _ms(started), str(error))
    except (OSError, aiohttp.ClientError) as error:
        return ProbeOutcome(spec.key, DOWN, None, _describe(error))
    except Exception as error:  # a driver's own error type (redis, psycopg, kombu)
        return ProbeOutcome(spec.key, DOWN, None, _describe(error))
    latency = _ms(started)
    outcome, notes = UP, [finding.detail]
    if finding.warning:
        outcome = DEGRADED
        notes.append(finding.warning)
    if finding.certificate_expires is not None:
        now = datetime.now(UTC)
        notes.append(certificate_words(finding.certificate_expires, now=now))
        if spec.warn_days and finding.certificate_expires - now < timedelta(days=spec.warn_days):
            outcome = DEGRADED
    # A ping collects the workers' answers for its whole window, so a celery probe always
    # lasts that long: its duration says nothing of how slow the workers are.
    timed = spec.kind != "celery"
    if timed and spec.degraded_after_ms is not None and latency > spec.degraded_after_ms:
        outcome = DEGRADED
        notes.append(f"slow: {latency:.0f} ms > {spec.degraded_after_ms:g} ms")
    return ProbeOutcome(spec.key, outcome, latency, ", ".join(notes))


async def _http(spec: ProbeSpec, client: aiohttp.ClientSession, deny: Sequence) -> Finding:
    if not spec.target:
        raise Refused("PLATFORM_BASE_URL is not set, so a relative URL cannot be probed")
    started = time.perf_counter()
    wants_body = any(condition.placeholder == "BODY" for condition in spec.conditions)
    fetched = await fetch(client, spec.target, deny=deny, method=spec.method, read_body=wants_body)
    if not any(low <= fetched.status <= high for low, high in spec.accepted):
        raise Refused(f"HTTP {fetched.status}")
    expires = fetched.certificate_expires
    # Most checks have no conditions: the answer they would read is not built for them.
    if spec.conditions:
        answer = Answer(
            status=fetched.status,
            response_time_ms=_ms(started),
            body=fetched.body,
            certificate_expiration_ms=(
                (expires - datetime.now(UTC)).total_seconds() * 1000 if expires else None
            ),
        )
        for condition in spec.conditions:
            if not condition.evaluate(answer):
                raise Refused(f"condition failed: {condition.text}")
    return Finding(f"HTTP {fetched.status}", certificate_expires=expires)


async def _tcp(spec: ProbeSpec, _client: aiohttp.ClientSession | None, deny: Sequence) -> Finding:
    parts = urlsplit(f"tcp://{spec.target}")
    address = await vetted_address(parts.hostname or "", deny)
    _reader, writer = await asyncio.open_connection(address, parts.port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Finding("connected")


async def _redis(spec: ProbeSpec, _client: aiohttp.ClientSession | None, deny: Sequence) -> Finding:
    parts = urlsplit(spec.target)
    # As redis-py reads it: the host percent-decoded; the URL's host wins over ?host=.
    host = unquote(parts.hostname or "")
    address = await vetted_address(host, deny)
    url = with_host(parts, host if parts.scheme == "rediss" else address)
    client = aioredis.from_url(
        url, socket_connect_timeout=spec.timeout, socket_timeout=spec.timeout
    )
    try:
        if await client.ping() is not True:
            raise Refused("PING did not answer PONG")
    finally:
        await client.aclose()
    return Finding("PONG")


async def _postgres(
    spec: ProbeSpec, _client: aiohttp.ClientSession | None, deny: Sequence
) -> Finding:
    # As libpq reads it: ?host= wins over the URL's host, and hostaddr (an address)
    # is where it connects, the host then serving for TLS and the password file only.
    params = conninfo_to_dict(spec.target)
    address = await vetted_address(params.get("hostaddr") or params.get("host", ""), deny)
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
            raise Refused(f"SELECT 1 returned {row!r}")
    finally:
        await connection.close()
    return Finding("SELECT 1")


def _cut_late(timeout: float, started: float) -> bool:
    """Whether a probe's timeout fired well after it was due: the event loop was kept from
    running meanwhile, the time it counted was not all the target's."""
    return time.perf_counter() - started > timeout + max(LATE_BY, timeout / 4)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    # aiohttp's connection errors carry the errno of the OSError they wrap.
    if getattr(error, "errno", None) == errno.ECONNREFUSED or "Connection refused" in text:
        return "connection refused"
    return f"{type(error).__name__}: {text}"[:300]


Kind = Callable[[ProbeSpec, aiohttp.ClientSession | None, Sequence], Awaitable[Finding]]
_KINDS: dict[str, Kind] = {
    "http": _http,
    "tcp": _tcp,
    "redis": _redis,
    "postgres": _postgres,
    "oidc": probe_oidc,
    "sso-redirect": probe_sso_redirect,
    "celery": probe_celery,
}
# The kinds that speak HTTP through the scan's shared client.
HTTP_KINDS = {"http", "oidc", "sso-redirect"}
