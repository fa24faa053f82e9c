"""Probes against real servers: local HTTP and TCP servers, the machine's Redis and PostgreSQL."""

import asyncio
import os
import time

import psycopg
import pytest

from portal.conditions import parse_conditions
from portal.probes import ProbeSpec, probe_all, probe_one
from tests.conftest import TEST_REDIS_URL

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def probe(spec: ProbeSpec):
    return asyncio.run(probe_one(spec))


def http(url, **options) -> ProbeSpec:
    options.setdefault("timeout", 2.0)
    return ProbeSpec(key=1, kind="http", target=url, **options)


def test_http_ok_is_up_with_its_latency(http_server):
    outcome = probe(http(http_server.url("/ok")))
    assert outcome.outcome == "up"
    assert outcome.detail == "HTTP 200"
    assert 0 < outcome.latency_ms < 1000


def test_http_500_is_down(http_server):
    outcome = probe(http(http_server.url("/error")))
    assert (outcome.outcome, outcome.detail) == ("down", "HTTP 500")


def test_http_500_is_up_when_accepted(http_server):
    outcome = probe(http(http_server.url("/error"), accepted=((200, 299), (500, 500))))
    assert outcome.outcome == "up"


def test_slow_answer_is_degraded_above_the_threshold(http_server):
    outcome = probe(http(http_server.url("/slow?seconds=0.3"), degraded_after_ms=100))
    assert outcome.outcome == "degraded"
    assert outcome.latency_ms >= 300
    assert "slow" in outcome.detail


def test_hanging_server_is_down_after_the_timeout(http_server):
    started = time.monotonic()
    outcome = probe(http(http_server.url("/hang"), timeout=0.5))
    assert time.monotonic() - started < 1.5
    assert (outcome.outcome, outcome.detail) == ("down", "no answer within 0.5 s")


def test_refused_connection_is_down(refused_port):
    outcome = probe(http(f"http://127.0.0.1:{refused_port}/"))
    assert outcome.outcome == "down"
    assert outcome.latency_ms is None


def test_body_condition_decides(http_server):
    up = probe(
        http(
            http_server.url("/ok"),
            conditions=tuple(
                parse_conditions(
                    "[STATUS] == 200\n[BODY].status == UP\n"
                    "[BODY].checks[0].state == UP\n[RESPONSE_TIME] < 1000"
                )
            ),
        )
    )
    assert up.outcome == "up"
    down = probe(
        http(http_server.url("/down"), conditions=tuple(parse_conditions("[BODY].status == UP")))
    )
    assert (down.outcome, down.detail) == ("down", "condition failed: [BODY].status == UP")


def test_relative_url_without_platform_base_url_is_down_and_says_why():
    outcome = probe(http(""))
    assert outcome.outcome == "down"
    assert "PLATFORM_BASE_URL" in outcome.detail


def test_tcp_connect(tcp_server, refused_port):
    assert probe(ProbeSpec(1, "tcp", tcp_server.address, 1.0)).outcome == "up"
    refused = probe(ProbeSpec(1, "tcp", f"127.0.0.1:{refused_port}", 1.0))
    assert (refused.outcome, refused.detail) == ("down", "connection refused")


def test_redis_ping(refused_port):
    assert probe(ProbeSpec(1, "redis", TEST_REDIS_URL, 2.0)).detail == "PONG"
    assert probe(ProbeSpec(1, "redis", f"redis://127.0.0.1:{refused_port}/0", 1.0)).outcome == (
        "down"
    )


def test_postgres_select_1(refused_port):
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (CI always has one)")
    outcome = probe(ProbeSpec(1, "postgres", POSTGRES_URL, 3.0))
    assert (outcome.outcome, outcome.detail) == ("up", "SELECT 1")
    refused = probe(ProbeSpec(1, "postgres", f"postgres://u@127.0.0.1:{refused_port}/x", 1.0))
    assert refused.outcome == "down"


def test_probes_run_concurrently_and_a_deadline_cuts_the_stragglers(http_server):
    specs = [ProbeSpec(n, "http", http_server.url("/slow?seconds=0.5"), 2.0) for n in range(20)]
    specs.append(ProbeSpec(99, "http", http_server.url("/hang"), 30.0))
    started = time.monotonic()
    outcomes = asyncio.run(probe_all(specs, concurrency=20, deadline=1.5))
    elapsed = time.monotonic() - started
    # Twenty half-second probes, twenty at a time: one round, not ten seconds.
    assert elapsed < 2.5
    by_key = {outcome.key: outcome for outcome in outcomes}
    assert len(by_key) == 21
    assert all(by_key[n].outcome == "up" for n in range(20))
    assert by_key[99].outcome == "down"
    assert "deadline" in by_key[99].detail


def test_concurrency_is_bounded(http_server):
    specs = [ProbeSpec(n, "http", http_server.url("/slow?seconds=0.3"), 2.0) for n in range(6)]
    started = time.monotonic()
    asyncio.run(probe_all(specs, concurrency=2, deadline=10))
    # Two at a time: three rounds of 0.3 s.
    assert time.monotonic() - started >= 0.85
