"""Whether an address is in networks the settings name (METRICS_ALLOWED_NETWORKS,
TRUSTED_PROXY_NETWORKS, HEALTH_CHECK_DENY_NETWORKS, parsed in aixops/settings.py), and
who a request really comes from behind the proxy."""

import ipaddress
import logging

from django.conf import settings

log = logging.getLogger(__name__)


def network_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks):
    """The first of `networks` that holds `address`, or None.

    An IPv4-mapped IPv6 address (::ffff:169.254.169.254) also counts as the IPv4 address
    it carries: a socket connected to it reaches that IPv4 address.
    """
    mapped = getattr(address, "ipv4_mapped", None)
    for network in networks:
        if address in network or (mapped is not None and mapped in network):
            return network
    return None


def address_in(address: str | None, networks) -> bool:
    """True if `address` is a valid IP address inside one of `networks`."""
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return network_of(peer, networks) is not None


def client_ip(request) -> str | None:
    """The caller's address, for the audit trail. Behind nginx the peer is nginx itself;
    then the client is the address nginx saw, which it appends last to X-Forwarded-For
    (`$proxy_add_x_forwarded_for`). Entries before it come from the client and may be
    forged, and a peer outside TRUSTED_PROXY_NETWORKS is believed about nothing."""
    if request is None:
        return None
    peer = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and address_in(peer, settings.TRUSTED_PROXY_NETWORKS):
        try:
            return str(ipaddress.ip_address(forwarded.rsplit(",", 1)[-1].strip()))
        except ValueError:
            log.warning("the proxy at %s sent an unusable X-Forwarded-For: %r", peer, forwarded)
    return peer
