"""Probes against real servers: local HTTP and TCP servers, the machine's Redis and PostgreSQL.

Probes of denied addresses are refused before any connection: the `resolver` fixture
maps test names to those addresses and the `connections` fixture fails any connection
that is not to loopback, so these tests never send traffic anywhere else.
"""

import asyncio
import ipaddress
import os
import ssl
import time

import aiohttp
import psycopg
import pytest
import trustme
from django.conf import settings

from portal import probes
from portal.conditions import parse_conditions
from portal.probe_net import http_client
from portal.probes import ProbeSpec, probe_all, probe_one
from tests.servers import HttpServer
from tests.subprocesses import TEST_REDIS_URL

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
METADATA_REFUSED = (
    "refused: metadata.probe.test (169.254.169.254) is in HEALTH_CHECK_DENY_NETWORKS "
    "(169.254.0.0/16)"
)


def probe(spec: ProbeSpec, client: aiohttp.ClientSession | None = None):
    return asyncio.run(probe_one(spec, client, deny=settings.HEALTH_CHECK_DENY_NETWORKS))


def require_postgres():
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (CI always has one)")


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


def test_a_probe_whose_timeout_fired_late_because_the_worker_was_busy_is_tried_again(
    http_server,
):
    async def busy_while_probing():
        probing = asyncio.create_task(
            probe_one(
                http(http_server.url("/slow?seconds=0.2"), timeout=0.5),
                deny=settings.HEALTH_CHECK_DENY_NETWORKS,
            )
        )
        await asyncio.sleep(0.05)  # the request is sent
        time.sleep(1.0)  # the worker's CPU taken: its loop cannot run
        return await probing

    outcome = asyncio.run(busy_while_probing())
    # The answer came after 0.2 s but was read after the 0.5 s timeout: tried again, up.
    assert (outcome.outcome, outcome.detail) == ("up", "HTTP 200")
    assert outcome.latency_ms < 500


def test_a_hanging_server_is_tried_once_more_at_most_however_late_the_timeouts_fire(
    http_server,
):
    async def busy_while_probing():
        probing = asyncio.create_task(
            probe_one(
                http(http_server.url("/hang"), timeout=0.3),
                deny=settings.HEALTH_CHECK_DENY_NETWORKS,
            )
        )
        for _ in range(2):  # each try's timeout fires late
            await asyncio.sleep(0.1)
            time.sleep(0.6)  # the worker's CPU taken: its loop cannot run
            await asyncio.sleep(0.05)
        return await probing

    outcome = asyncio.run(busy_while_probing())
    assert (outcome.outcome, outcome.detail) == ("down", "no answer within 0.3 s")


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
    require_postgres()
    outcome = probe(ProbeSpec(1, "postgres", POSTGRES_URL, 3.0))
    assert (outcome.outcome, outcome.detail) == ("up", "SELECT 1")
    refused = probe(ProbeSpec(1, "postgres", f"postgres://u@127.0.0.1:{refused_port}/x", 1.0))
    assert refused.outcome == "down"


def test_probes_run_concurrently_and_a_deadline_cuts_the_stragglers(http_server):
    specs = [ProbeSpec(n, "http", http_server.url("/slow?seconds=0.5"), 2.0) for n in range(20)]
    specs.append(ProbeSpec(99, "http", http_server.url("/hang"), 30.0))
    started = time.monotonic()
    outcomes = asyncio.run(
        probe_all(specs, concurrency=20, deadline=1.5, deny=settings.HEALTH_CHECK_DENY_NETWORKS)
    )
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
    asyncio.run(
        probe_all(specs, concurrency=2, deadline=10, deny=settings.HEALTH_CHECK_DENY_NETWORKS)
    )
    # Two at a time: three rounds of 0.3 s.
    assert time.monotonic() - started >= 0.85


def test_probes_not_started_by_the_deadline_are_reported_cut_in_the_order_given(http_server):
    specs = [
        ProbeSpec(1, "http", http_server.url("/hang"), 30.0),
        ProbeSpec(2, "http", http_server.url("/ok"), 2.0),
        ProbeSpec(3, "http", http_server.url("/ok"), 2.0),
    ]
    started = time.monotonic()
    outcomes = asyncio.run(
        probe_all(specs, concurrency=1, deadline=0.5, deny=settings.HEALTH_CHECK_DENY_NETWORKS)
    )
    assert time.monotonic() - started < 2
    # One at a time: the hanging probe holds the only place until the deadline, so the
    # two behind it never start, and none of the three is left without an outcome.
    assert [(o.key, o.outcome, o.detail) for o in outcomes] == [
        (key, "down", "cut at the scan deadline (0.5 s)") for key in (1, 2, 3)
    ]


def test_a_probe_that_fails_is_reported_and_the_probes_after_it_still_run(http_server, monkeypatch):
    real_probe_one = probes.probe_one

    async def failing_for_key_1(spec, client, *, deny):
        if spec.key == 1:
            raise RuntimeError("a bug in a kind of probe")
        return await real_probe_one(spec, client, deny=deny)

    monkeypatch.setattr(probes, "probe_one", failing_for_key_1)
    specs = [ProbeSpec(key, "http", http_server.url("/ok"), 2.0) for key in (1, 2, 3)]
    outcomes = asyncio.run(
        probe_all(specs, concurrency=1, deadline=10, deny=settings.HEALTH_CHECK_DENY_NETWORKS)
    )
    assert [(o.key, o.outcome) for o in outcomes] == [(1, "down"), (2, "up"), (3, "up")]
    assert outcomes[0].detail == "probe failed: a bug in a kind of probe"


def test_no_probe_starts_after_the_deadline_even_when_one_ignores_its_cancellation(
    monkeypatch,
):
    started = []

    async def ignoring_cancellation(spec, client, *, deny):
        started.append(spec.key)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return probes.ProbeOutcome(spec.key, "up", 1.0, "finished anyway")
        raise AssertionError("the deadline never came")

    monkeypatch.setattr(probes, "probe_one", ignoring_cancellation)
    specs = [ProbeSpec(key, "http", "http://127.0.0.1:9/", 2.0) for key in (1, 2)]
    outcomes = asyncio.run(
        probe_all(specs, concurrency=1, deadline=0.2, deny=settings.HEALTH_CHECK_DENY_NETWORKS)
    )
    assert started == [1]
    assert [(o.key, o.outcome) for o in outcomes] == [(1, "up"), (2, "down")]
    assert outcomes[1].detail == "cut at the scan deadline (0.2 s)"


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("http", "http://metadata.probe.test/latest/meta-data/"),
        ("tcp", "metadata.probe.test:80"),
        ("redis", "redis://metadata.probe.test:6379/0"),
        ("redis", "rediss://:secret@metadata.probe.test:6380/0"),
        ("postgres", "postgres://u@metadata.probe.test:5432/x"),
        # libpq takes the host in the query string over the one before the path.
        ("postgres", "postgres://u@app.probe.test/x?host=metadata.probe.test"),
    ],
)
def test_a_host_resolving_into_a_denied_network_is_refused_before_connecting(
    resolver, connections, kind, target
):
    outcome = probe(ProbeSpec(1, kind, target, 2.0))
    assert (outcome.outcome, outcome.latency_ms, outcome.detail) == ("down", None, METADATA_REFUSED)
    assert resolver.asked == ["metadata.probe.test"]
    assert connections == []


def test_a_postgres_hostaddr_is_where_libpq_connects_so_it_is_vetted(resolver, connections):
    outcome = probe(ProbeSpec(1, "postgres", "postgres://app.probe.test/x?hostaddr=0xa9fea9fe", 2))
    assert outcome.detail == (
        "refused: 0xa9fea9fe (169.254.169.254) is in HEALTH_CHECK_DENY_NETWORKS (169.254.0.0/16)"
    )
    assert connections == []


@pytest.mark.parametrize(
    ("kind", "target", "shown"),
    [
        ("http", "http://2852039166/latest/meta-data/", "2852039166 (169.254.169.254)"),
        ("http", "http://0xa9fea9fe/latest/meta-data/", "0xa9fea9fe (169.254.169.254)"),
        ("tcp", "0251.0376.0251.0376:80", "0251.0376.0251.0376 (169.254.169.254)"),
        ("tcp", "169.254.43518:80", "169.254.43518 (169.254.169.254)"),
        ("tcp", "[::ffff:169.254.169.254]:80", "::ffff:169.254.169.254 (169.254.169.254)"),
        ("redis", "redis://[fe80::1]:6379/0", "fe80::1"),
    ],
)
def test_any_spelling_of_a_denied_address_is_refused_when_probing(
    resolver, connections, kind, target, shown
):
    outcome = probe(ProbeSpec(1, kind, target, 2.0))
    assert outcome.outcome == "down"
    assert outcome.detail.startswith(f"refused: {shown} is in HEALTH_CHECK_DENY_NETWORKS (")
    assert connections == []


def test_a_host_is_refused_when_any_of_its_addresses_is_denied(resolver, connections, tcp_server):
    outcome = probe(ProbeSpec(1, "tcp", f"dual.probe.test:{tcp_server.port}", 1.0))
    assert outcome.detail == (
        "refused: dual.probe.test (fd00:ec2::254) is in HEALTH_CHECK_DENY_NETWORKS "
        "(fd00:ec2::254/128)"
    )
    assert connections == []


def test_an_operator_can_deny_more_networks(connections, http_server):
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    outcome = asyncio.run(probe_one(http(http_server.url("/ok")), deny=loopback))
    assert outcome.detail == "refused: 127.0.0.1 is in HEALTH_CHECK_DENY_NETWORKS (127.0.0.0/8)"
    assert connections == []


def test_credentials_in_an_http_url_are_never_sent(connections, http_server):
    outcome = probe(http(http_server.url("/ok").replace("://", "://admin:secret@")))
    assert (outcome.outcome, outcome.detail) == ("down", "refused: the URL carries credentials")
    assert connections == []


def test_a_name_is_looked_up_once_so_a_changed_answer_cannot_steer_the_probe(
    resolver, connections, http_server
):
    host = f"rebind.probe.test:{http_server.port}"
    outcome = probe(
        http(
            http_server.url("/host", host="rebind.probe.test"),
            conditions=tuple(parse_conditions(f"[BODY].host == {host}")),
        )
    )
    # Connected to the first answer's address, the name still in the Host header.
    assert (outcome.outcome, outcome.detail) == ("up", "HTTP 200")
    assert resolver.asked == ["rebind.probe.test"]
    assert connections == [("127.0.0.1", http_server.port)]


@pytest.mark.parametrize(("certified", "outcome"), [("app.probe.test", "up"), ("other", "down")])
def test_https_to_the_vetted_address_checks_the_certificate_of_the_name(
    resolver, connections, certified, outcome
):
    ca = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(certified).configure_cert(server_side)
    client_side = ssl.create_default_context()
    ca.configure_trust(client_side)

    async def run(url):
        async with http_client(ssl_context=client_side) as client:
            return await probe_one(http(url), client, deny=settings.HEALTH_CHECK_DENY_NETWORKS)

    with HttpServer(ssl_context=server_side) as server:
        result = asyncio.run(run(server.url("/ok", host="app.probe.test")))
    assert result.outcome == outcome
    if outcome == "down":
        assert result.detail.startswith("certificate invalid: Hostname mismatch")
    assert connections == [("127.0.0.1", server.port)]


def test_redirects_are_reported_not_followed(resolver, connections, http_server):
    outcome = probe(http(http_server.url("/redirect?to=http://metadata.probe.test/latest/")))
    assert (outcome.outcome, outcome.detail) == ("up", "HTTP 302")
    assert "metadata.probe.test" not in resolver.asked
    assert connections == [("127.0.0.1", http_server.port)]


def test_tcp_and_redis_probes_connect_to_the_address_they_vetted(resolver, connections, tcp_server):
    assert probe(ProbeSpec(1, "tcp", f"app.probe.test:{tcp_server.port}", 1.0)).detail == (
        "connected"
    )
    redis_url = TEST_REDIS_URL.replace("127.0.0.1", "app.probe.test")
    assert probe(ProbeSpec(1, "redis", redis_url, 2.0)).detail == "PONG"
    assert resolver.asked == ["app.probe.test", "app.probe.test"]
    assert [address for address, _port in connections] == ["127.0.0.1", "127.0.0.1"]


def test_a_postgres_probe_connects_to_the_address_it_vetted(resolver, connections):
    require_postgres()
    by_name = POSTGRES_URL.replace("127.0.0.1", "app.probe.test")
    outcome = probe(ProbeSpec(1, "postgres", by_name, 3.0))
    assert (outcome.outcome, outcome.detail) == ("up", "SELECT 1")
    assert resolver.asked == ["app.probe.test"]
    assert [address for address, _port in connections] == ["127.0.0.1"]
