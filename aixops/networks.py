"""Whether an address is in networks the settings name (METRICS_ALLOWED_NETWORKS,
TRUSTED_PROXY_NETWORKS, HEALTH_CHECK_DENY_NETWORKS, parsed in aixops/settings.py)."""

import ipaddress


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
