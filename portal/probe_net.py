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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import SplitResult, quote

import httpx
from cryptography import x509

from .conditions import Condition
from .targets import refusal

# Conditions on [BODY] and the identity probes read at most this much of a body.
BODY_LIMIT = 64 * 1024
# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED.
_CERT_HAS_EXPIRED = 10


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

    url: httpx.URL  # as asked, with the host name
    status: int
    headers: httpx.Headers
    body: bytes
    certificate_expires: datetime | None


async def fetch(
    client: httpx.AsyncClient,
    url: str | httpx.URL,
    *,
    deny: Sequence,
    timeout: float,
    method: str = "GET",
    read_body: bool = False,
) -> Fetched:
    """One request to `url`'s vetted address, redirects not followed, the body read (up
    to BODY_LIMIT) only when asked. Denied before connecting to a denied address or when
    the URL carries credentials; CertificateInvalid when TLS refuses the certificate."""
    url = httpx.URL(url)
    if url.scheme not in ("http", "https"):
        raise Denied(f"refused: {url.scheme}:// URLs are not probed")
    if url.userinfo:
        raise Denied("refused: the URL carries credentials")
    host = url.raw_host.decode("ascii")
    address = await vetted_address(host, deny)
    try:
        # To the vetted address, with the name in the Host header, in TLS's SNI and in
        # the certificate check (httpx's sni_hostname request extension).
        async with client.stream(
            method,
            url.copy_with(host=address),
            headers={"Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": host},
            timeout=timeout,
        ) as response:
            body = b""
            if read_body:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= BODY_LIMIT:
                        break
            return Fetched(
                url=url,
                status=response.status_code,
                headers=response.headers,
                body=body[:BODY_LIMIT],
                certificate_expires=_certificate_expiry(response),
            )
    except httpx.ConnectError as error:
        verification = _verification_error(error)
        if verification is None:
            raise
        if verification.verify_code == _CERT_HAS_EXPIRED:
            expired = await _expiry_of_untrusted(address, url.port or 443, host)
            now = datetime.now(UTC)
            words = certificate_words(expired, now=now) if expired else "certificate expired"
            raise CertificateInvalid(words) from error
        raise CertificateInvalid(f"certificate invalid: {verification.verify_message}") from error


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


def _certificate_expiry(response: httpx.Response) -> datetime | None:
    """The notAfter of the certificate the server presented, if it spoke TLS and the
    certificate was verified (an unverified one is not decoded by Python's ssl)."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    not_after = (ssl_object.getpeercert() or {}).get("notAfter")
    if not not_after:
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=UTC)


def _verification_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind a connection error, if that is what it
    was (httpx wraps httpcore's error, which wraps ssl's)."""
    seen: BaseException | None = error
    for _depth in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


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
