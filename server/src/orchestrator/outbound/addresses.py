"""Which IP addresses a user-supplied URL may reach.

Two sets. *Never*: addresses no request should go to (unspecified, multicast, broadcast,
discard). *Private*: everything that is not plainly public — loopback, private, link-local,
shared, documentation and benchmarking networks, and every IPv6 range that embeds or reaches an
IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped/-compatible/-translated). Those reach IPv4 hosts
through a translator, so a public-looking IPv6 address could land on a private IPv4 one; a
receiver with a public IPv4 address is registered with that address instead. The private set is
refused unless the operator allows private targets.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Refusal = Literal["never", "private"]

_NEVER = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast 255.255.255.255
        "::/128",  # unspecified
        "ff00::/8",  # multicast
        "100::/64",  # discard-only
    )
)

_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "::1/128",
        "::/96",  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
        "::ffff:0:0/96",  # IPv4-mapped ::ffff:a.b.c.d
        "::ffff:0:0:0/96",  # IPv4-translated ::ffff:0:a.b.c.d (SIIT)
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local-use prefix
        "2001::/32",  # Teredo
        "2001::/23",  # IETF protocol assignments (ORCHID, AMT, …)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 segment identifiers
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
    )
)

_DESCRIPTION: dict[str, str] = {
    "127.0.0.0/8": "loopback",
    "::1/128": "loopback",
    "169.254.0.0/16": "link-local",
    "fe80::/10": "link-local",
    "::/96": "IPv4-compatible IPv6",
    "::ffff:0:0/96": "IPv4-mapped IPv6",
    "::ffff:0:0:0/96": "IPv4-translated IPv6",
    "64:ff9b::/96": "NAT64",
    "64:ff9b:1::/48": "NAT64",
    "2001::/32": "Teredo",
    "2002::/16": "6to4",
}


def refusal(address: IPAddress) -> tuple[Refusal, str] | None:
    """``None`` for a public address, else which set it is in and a short description."""
    for network in _NEVER:
        if address.version == network.version and address in network:
            return "never", _describe(network, "unspecified, multicast or reserved")
    for network in _PRIVATE:
        if address.version == network.version and address in network:
            return "private", _describe(network, "private or special-purpose")
    if not address.is_global:  # anything the standard library knows of that we did not list
        return "private", "special-purpose"
    return None


def _describe(network: ipaddress.IPv4Network | ipaddress.IPv6Network, default: str) -> str:
    return f"{_DESCRIPTION.get(str(network), default)} ({network})"
