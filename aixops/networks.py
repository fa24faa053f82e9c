"""Whether a peer's address is one the settings name (METRICS_ALLOWED_NETWORKS,
TRUSTED_PROXY_NETWORKS, parsed in aixops/settings.py)."""

import ipaddress


def address_in(address: str | None, networks) -> bool:
    """True if `address` is a valid IP address inside one of `networks`."""
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(peer in network for network in networks)
