"""Hosts of health check targets, read the way the probe's resolver reads them.

getaddrinfo (through inet_aton) takes IPv4 addresses in forms people rarely write:
decimal 2852039166, octal 0251.0376.0251.0376, hex 0xa9fea9fe, short 169.254.43518,
all of them 169.254.169.254. `known_address` reads a host the same way, so that a
check aimed at a denied network (HEALTH_CHECK_DENY_NETWORKS) is refused when it is
saved, whatever the spelling. Other names are only looked up when probing
(portal/probes.py), because DNS answers change: the probe vets the addresses it is
about to connect to.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from aixops.networks import network_of

# Names that mean a cloud's metadata service, with the address they stand for.
METADATA_HOSTS = {
    "metadata.google.internal": "169.254.169.254",
    "metadata.goog": "169.254.169.254",
    "instance-data.ec2.internal": "169.254.169.254",
    "metadata.tencentyun.com": "169.254.0.23",
}
# What inet_aton could read as a number: digits, hex digits after 0x, dots.
_NUMERIC = re.compile(r"[0-9a-fx.]*[0-9][0-9a-fx.]*")
# Letters (any script: IDNA comes later), digits, hyphens and underscores, between dots.
_HOST_NAME = re.compile(r"[^\W_][\w-]*(?:\.[\w-]+)*\.?")


def known_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` stands for without asking DNS, or None for other names.

    An IP address in any spelling getaddrinfo accepts (including IPv6 in brackets and
    a trailing dot), or the well-known name of a cloud metadata service.
    """
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.endswith("."):
        host = host[:-1]
    if host in METADATA_HOSTS:
        return ipaddress.ip_address(METADATA_HOSTS[host])
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # The character check matters: inet_aton ignores anything after a space.
    if _NUMERIC.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_host_name(host: str) -> bool:
    """Whether `host` reads as a DNS name (not as an address)."""
    return len(host) <= 253 and _HOST_NAME.fullmatch(host) is not None


def loopback_origin(url: str) -> tuple[str, str] | None:
    """The scheme and `host[:port]` of an http(s) URL on this machine (a loopback address
    in any spelling, or localhost); None for a URL elsewhere, a path or nonsense."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return None
    if host != "localhost":
        address = known_address(host)
        if address is None or not address.is_loopback:
            return None
    netloc = f"[{host}]" if ":" in host else host
    return parts.scheme, netloc if port is None else f"{netloc}:{port}"


def host_with_address(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """`host` for messages, followed by the address it stands for when it spells it
    otherwise: `2852039166 (169.254.169.254)`."""
    address = getattr(address, "ipv4_mapped", None) or address
    return host if host == str(address) else f"{host} ({address})"


def refusal(host: str, addresses: Iterable, deny: Sequence) -> str | None:
    """Why `host` may not be reached, when one of the `addresses` it resolves to is in
    one of the `deny` networks (HEALTH_CHECK_DENY_NETWORKS); None when it may."""
    for address in addresses:
        network = network_of(address, deny)
        if network is not None:
            return (
                f"refused: {host_with_address(host, address)} is in "
                f"HEALTH_CHECK_DENY_NETWORKS ({network})"
            )
    return None


def resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address `host` has (itself, when it is an address), looked up once."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        # getaddrinfo also reads odd spellings of addresses (2852039166, 0xa9fea9fe).
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return [ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found]
