"""What every probe shares: what to probe (`ProbeSpec`), the address it may connect to,
HTTP requests to that address, and what a server's TLS certificate says about its expiry.

A probe looks its host up once, refuses it when any address the host has is in a denied
network (HEALTH_CHECK_DENY_NETWORKS), and connects to the address it vetted, never to the
name again: a second DNS answer (DNS rebinding) cannot steer it. Probes that make several
requests (OpenID discovery, then its JWKS and authorization endpoints, which the provider
names) vet each URL the same way before connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import SplitResult, quote

import aiohttp
from cryptography import x509
from yarl import URL

from .conditions import Condition
from .targets import refusal

# Conditions on [BODY] and the identity probes read at most this much of a body.
BODY_LIMIT = 64 * 1024
# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED.
_CERT_HAS_EXPIRED = 10
USER_AGENT = "AIXOps-health/1.0"


class Refused(Exception):
    """The target answered, but not as a healthy one would (e.g. Redis without PONG)."""


class Denied(Exception):
    """The target may not be probed; nothing was sent to it."""


class CertificateInvalid(Refused):
    """The server's TLS certificate is expired or cannot be trusted; the message says which."""


async def vetted_address(host: str, deny: Sequence) -> str:
    """The address to connect to for `host`, looked up once; Denied when any address the
    host has is in one of the `deny` networks."""
    if not host:
        raise Denied("refused: the target has no host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        # getaddrinfo also reads odd spellings of addresses (2852039166, 0xa9fea9fe).
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found]
    reason = refusal(host, addresses, deny)
    if reason:
        raise Denied(reason)
    return str(addresses[0])


@dataclass(frozen=True)
class ProbeSpec:
    """Everything needed to probe one check, free of the ORM."""

    key: int
    kind: str  # a HealthCheck.Kind: "http", "tcp", "redis", "postgres", "oidc", ...
    target: str
    timeout: float
    method: str = "GET"
    accepted: tuple[tuple[int, int], ...] = ((200, 399),)
    degraded_after_ms: float | None = None
    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    # Over HTTPS: degraded when the certificate expires within this many days (0: never).
    warn_days: int = 14
    # oidc: the issuer the discovery document must name; sso-redirect: where an
    # anonymous request must be sent to sign in (a URL prefix).
    expected: str = ""
    # oidc, optional: an authorization request by this client with this redirect URI
    # must be accepted.
    client_id: str = ""
    redirect_uri: str = ""
    # oidc: how far the provider's clock may be from ours, in seconds.
    max_clock_skew: float = 30
    # celery: the queue to measure, how long it may grow, and the broker's key prefix.
    queue: str = "celery"
    max_queue_length: int | None = None
    key_prefix: str = ""


@dataclass(frozen=True)
class Finding:
    """What a kind of probe found in an answer it accepts: what to say, a warning that
    makes it degraded, and the expiry of the TLS certificate it was served over."""

    detail: str
    warning: str = ""
    certificate_expires: datetime | None = None


@dataclass(frozen=True)
class Fetched:
    """One HTTP answer: status, headers, the start of the body, and when the server's
    certificate expires (None over plain HTTP)."""

    url: URL  # as asked, with the host name
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    certificate_expires: datetime | None


# The certificate of the connection the current task's request opened: the connector sets
# it, `fetch` reads it. A context variable, because probes run at once, each in a task of
# its own (one of probe_all's workers, which runs its probes one after another: `fetch`
# clears it before each request).
_served_certificate: ContextVar[dict | None] = ContextVar("served_certificate", default=None)


class _ProbeConnector(aiohttp.TCPConnector):
    """A connector that notes the certificate each new TLS connection was served, verified,
    before any byte of the request is sent: the response may release its connection (an
    empty body) before `fetch` could ask it."""

    async def connect(self, req, traces, timeout):
        connection = await super().connect(req, traces, timeout)
        transport = connection.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport else None
        _served_certificate.set(ssl_object.getpeercert() if ssl_object else None)
        return connection


def http_client(
    *, concurrency: int = 100, ssl_context: ssl.SSLContext | None = None
) -> aiohttp.ClientSession:
    """The session HTTP probes share: at most `concurrency` connections, none kept open,
    no cookies, no proxies from the environment, certificates verified (against
    `ssl_context`'s trust store when given).

    A scan asks each target once, so there is nothing to reuse, and a kept connection made
    for one host name must never serve another that has the same address (probes connect
    by address). Environment proxies are ignored on purpose: probes of internal hosts
    must go direct. Cookies one target sets are never sent to the next. No timeout of
    aiohttp's own: every request is made within its probe's timeout (`probe_one`), which
    bounds it already; a second timer per request would only cost CPU.
    """
    connector = _ProbeConnector(
        limit=concurrency, force_close=True, ssl=ssl_context if ssl_context else True
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(),
    )


async def fetch(
    client: aiohttp.ClientSession,
    url: str | URL,
    *,
    deny: Sequence,
    method: str = "GET",
    read_body: bool = False,
) -> Fetched:
    """One request to `url`'s vetted address, redirects not followed, the body read (up
    to BODY_LIMIT) only when asked, within the caller's timeout (its probe's). Denied
    before connecting to a denied address or when the URL carries credentials;
    CertificateInvalid when TLS refuses the certificate."""
    url = URL(url)
    if url.scheme not in ("http", "https"):
        raise Denied(f"refused: {url.scheme}:// URLs are not probed")
    if url.raw_user or url.raw_password:
        raise Denied("refused: the URL carries credentials")
    host = url.raw_host or ""
    address = await vetted_address(host, deny)
    _served_certificate.set(None)
    try:
        # To the vetted address, with the name in the Host header, in TLS's SNI and in
        # the certificate check (aiohttp's server_hostname).
        async with client.request(
            method,
            url.with_host(address),
            headers={"Host": url.host_port_subcomponent or host},
            server_hostname=host,
            allow_redirects=False,
        ) as response:
            body = b""
            while read_body and len(body) < BODY_LIMIT:
                chunk = await response.content.read(BODY_LIMIT - len(body))
                if not chunk:
                    break
                body += chunk
            return Fetched(
                url=url,
                status=response.status,
                headers=response.headers,
                body=body,
                certificate_expires=_not_after(_served_certificate.get()),
            )
    except aiohttp.ClientConnectorCertificateError as error:
        verification = error.certificate_error
        if getattr(verification, "verify_code", None) == _CERT_HAS_EXPIRED:
            expired = await _expiry_of_untrusted(address, url.port or 443, host)
            now = datetime.now(UTC)
            words = certificate_words(expired, now=now) if expired else "certificate expired"
            raise CertificateInvalid(words) from error
        message = getattr(verification, "verify_message", None) or str(verification)
        raise CertificateInvalid(f"certificate invalid: {message}") from error


async def _expiry_of_untrusted(address: str, port: int, host: str) -> datetime | None:
    """When the certificate a server refused by TLS expired: one more handshake to the same
    vetted address, without verification, only to read the date for the detail."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read, never trusted: nothing is sent after it
    try:
        _reader, writer = await asyncio.open_connection(
            address, port, ssl=context, server_hostname=host
        )
    except OSError:
        return None
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    if not der:
        return None
    return x509.load_der_x509_certificate(der).not_valid_after_utc


def _not_after(certificate: dict | None) -> datetime | None:
    """The notAfter of a verified certificate (Python's ssl decodes only verified ones)."""
    not_after = (certificate or {}).get("notAfter")
    if not not_after:
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=UTC)


def certificate_words(expires: datetime, *, now: datetime) -> str:
    """`certificate expires in 9 days (2026-12-15)`, `… expires today (…)`,
    `certificate expired 2 days ago (2026-12-04)`."""
    days = (expires - now).days
    when = f"({expires:%Y-%m-%d})"
    if expires <= now:
        ago = (now - expires).days
        if ago == 0:
            return f"certificate expired today {when}"
        return f"certificate expired {ago} day{'s' if ago != 1 else ''} ago {when}"
    if days == 0:
        return f"certificate expires today {when}"
    return f"certificate expires in {days} day{'s' if days != 1 else ''} {when}"


def with_host(parts: SplitResult, host: str) -> str:
    """The URL `parts` with its host replaced, credentials and port kept."""
    credentials, _at, _host_port = parts.netloc.rpartition("@")
    netloc = f"[{host}]" if ":" in host else quote(host, safe="")
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if credentials:
        netloc = f"{credentials}@{netloc}"
    return parts._replace(netloc=netloc).geturl()
