"""Who a throttle counts: the client's address as every per-address limit keys it.

An IPv4 client is its full address. An IPv6 client is its /64: one household or phone
is handed a whole /64 and may pick any address in it, so counting single addresses would
give it billions of fresh buckets. Behind TRUSTED_PROXY_HOPS proxies the address is the
one ProxyFix took from them (core.app.trust_proxies).
"""

from __future__ import annotations

import ipaddress

from flask import request

#: The prefix length an IPv6 client is counted by.
IPV6_PREFIX = 64


def address_key(address: str | None) -> str:
    """The bucket name of a client address: IPv4 as is, IPv6 as its /64 ('2001:db8:1:2::/64')."""
    try:
        parsed = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return address or "-"
    if parsed.version == 6:
        mapped = parsed.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def client_key() -> str:
    """The bucket name of this request's client (Flask-Limiter's key function)."""
    return address_key(request.remote_addr)
