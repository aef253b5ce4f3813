"""Loopback addresses: a server without tokens listens only on these unless configured."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback_host(host: str) -> bool:
    """Tell whether ``host`` is localhost, an address in 127.0.0.0/8, or ::1.

    Other host names are not resolved and count as non-loopback, and so do the
    empty string and the wildcard addresses 0.0.0.0 and ::.
    """
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
