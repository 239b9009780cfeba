"""Which webhook URLs we agree to call: no loopback, link-local or private addresses by default,
so an API user cannot aim the server at its own network (SSRF)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class TargetNotAllowed(ValueError):
    """The URL may not receive webhooks; the message says why."""


def check_url_shape(url: str) -> tuple[str, int]:
    """(host, port) of an acceptable http(s) URL, or :class:`TargetNotAllowed`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetNotAllowed("must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise TargetNotAllowed("must not carry credentials; the signature authenticates us")
    if not parts.hostname:
        raise TargetNotAllowed("must name a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetNotAllowed("has an invalid port") from exc
    return parts.hostname, port


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that resolve to loopback, link-local, private or otherwise non-public
    addresses, unless ``allow_private``. Checked at registration and again before each delivery,
    since DNS answers change."""
    host, port = check_url_shape(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetNotAllowed(f"host {host!r} does not resolve") from exc
    for info in infos:
        if _forbidden(str(info[4][0])):
            raise TargetNotAllowed(
                f"host {host!r} resolves to a loopback, link-local or private address; "
                "webhooks go to public addresses only (an operator can allow private targets with "
                "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE_TARGETS=true)"
            )
