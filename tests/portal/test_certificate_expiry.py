"""Certificate expiry on every HTTPS check: TLS servers made here with a certificate that
is valid for a year, expires in five days, or has expired."""

import asyncio
import contextlib
import ssl
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from django.conf import settings

from portal.conditions import parse_conditions
from portal.probe_net import http_client
from portal.probes import ProbeSpec, probe_one
from tests.servers import HttpServer

CA = trustme.CA()


@contextlib.contextmanager
def https_server(*, expires_in: timedelta):
    """An HTTPS server on 127.0.0.1 whose certificate (for 127.0.0.1, from CA) ends
    `expires_in` from now (negative: it has expired)."""
    now = datetime.now(UTC)
    certificate = CA.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=30), not_after=now + expires_in
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    with HttpServer(ssl_context=context) as server:
        yield server


def probe(spec: ProbeSpec):
    trusting = ssl.create_default_context()
    CA.configure_trust(trusting)

    async def run():
        async with http_client(ssl_context=trusting) as client:
            return await probe_one(spec, client, deny=settings.HEALTH_CHECK_DENY_NETWORKS)

    return asyncio.run(run())


def day(offset: timedelta) -> str:
    return f"{datetime.now(UTC) + offset:%Y-%m-%d}"


def test_a_certificate_valid_for_a_year_is_up_and_says_when_it_expires():
    with https_server(expires_in=timedelta(days=365, hours=1)) as server:
        outcome = probe(ProbeSpec(1, "http", server.url("/ok"), 2.0))
    assert outcome.outcome == "up"
    assert outcome.detail == (
        f"HTTP 200, certificate expires in 365 days ({day(timedelta(days=365, hours=1))})"
    )


def test_a_certificate_expiring_within_warn_days_is_degraded():
    in_five_days = timedelta(days=5, hours=1)
    with https_server(expires_in=in_five_days) as server:
        outcome = probe(ProbeSpec(1, "http", server.url("/ok"), 2.0, warn_days=14))
        unwarned = probe(ProbeSpec(1, "http", server.url("/ok"), 2.0, warn_days=0))
    assert (outcome.outcome, outcome.detail) == (
        "degraded",
        f"HTTP 200, certificate expires in 5 days ({day(in_five_days)})",
    )
    assert unwarned.outcome == "up"


def test_an_expired_certificate_is_down_and_says_since_when(connections):
    two_days_ago = -timedelta(days=2, hours=1)
    with https_server(expires_in=two_days_ago) as server:
        outcome = probe(ProbeSpec(1, "http", server.url("/ok"), 2.0))
    assert (outcome.outcome, outcome.detail) == (
        "down",
        f"certificate expired 2 days ago ({day(two_days_ago)})",
    )
    # The date is read over a second handshake to the same vetted address.
    assert connections == [("127.0.0.1", server.port)] * 2


def test_a_certificate_nobody_vouches_for_is_down():
    with https_server(expires_in=timedelta(days=90)) as server:

        async def run():
            # The default trust store: the test CA is not in it.
            async with http_client() as client:
                return await probe_one(
                    ProbeSpec(1, "http", server.url("/ok"), 2.0),
                    client,
                    deny=settings.HEALTH_CHECK_DENY_NETWORKS,
                )

        outcome = asyncio.run(run())
    assert outcome.outcome == "down"
    assert outcome.detail.startswith("certificate invalid: ")


@pytest.mark.parametrize(
    ("condition", "outcome"),
    [
        ("[CERTIFICATE_EXPIRATION] > 48h", "up"),
        ("[CERTIFICATE_EXPIRATION] > 7d", "down"),
        ("[CERTIFICATE_EXPIRATION] > 1d12h", "up"),
    ],
)
def test_certificate_expiration_conditions_in_gatus_style(condition, outcome):
    with https_server(expires_in=timedelta(days=5, hours=1)) as server:
        result = probe(
            ProbeSpec(
                1,
                "http",
                server.url("/ok"),
                2.0,
                warn_days=0,
                conditions=tuple(parse_conditions(condition)),
            )
        )
    assert result.outcome == outcome
    if outcome == "down":
        assert result.detail == f"condition failed: {condition}"


def test_certificate_expiration_fails_over_plain_http(http_server):
    outcome = probe(
        ProbeSpec(
            1,
            "http",
            http_server.url("/ok"),
            2.0,
            conditions=tuple(parse_conditions("[CERTIFICATE_EXPIRATION] > 48h")),
        )
    )
    assert (outcome.outcome, outcome.detail) == (
        "down",
        "condition failed: [CERTIFICATE_EXPIRATION] > 48h",
    )


def test_an_answer_without_a_body_still_says_when_the_certificate_expires():
    in_a_year = timedelta(days=365, hours=1)
    with https_server(expires_in=in_a_year) as server:
        # A HEAD answer has no body: the connection is done with before the probe looks.
        outcome = probe(ProbeSpec(1, "http", server.url("/ok"), 2.0, method="HEAD"))
    assert (outcome.outcome, outcome.detail) == (
        "up",
        f"HTTP 200, certificate expires in 365 days ({day(in_a_year)})",
    )
