"""Fetching an input image from a caller's URL, under the webhook target rules (SSRF guard).

Only ``https`` (plain ``http`` only for operator-trusted hosts); the host is resolved once and
every address checked (no loopback, private, link-local or otherwise non-public address); the
connection goes to the checked address (pinned: a second DNS answer cannot redirect it), with the
name kept for TLS (SNI and certificate check) and the ``Host`` header. Each redirect is checked
the same way before it is followed. The body is capped in bytes and the whole fetch in time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from orchestrator.webhooks.targets import TargetNotAllowed, check_url_shape

MAX_REDIRECTS = 3


class FetchRefused(ValueError):
    """The URL may not be fetched, or what it answered is unusable; ``rule`` names why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _pinned_address(url: str, trusted: Collection[str]) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for an acceptable URL, else FetchRefused."""
    try:
        host, port = check_url_shape(url)
    except TargetNotAllowed as exc:
        raise FetchRefused("url_shape", f"the URL {exc}") from exc
    scheme = urlsplit(url).scheme
    is_trusted = f"{host}:{port}" in trusted
    if scheme != "https" and not is_trusted:
        raise FetchRefused("https_only", "only https:// image URLs are fetched")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchRefused("unresolvable", f"host {host!r} does not resolve") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchRefused("unresolvable", f"host {host!r} does not resolve")
    if not is_trusted and not all(_public(a) for a in addresses):
        raise FetchRefused(
            "private_address",
            f"host {host!r} resolves to a loopback, link-local or private address; "
            "images are fetched from public addresses only",
        )
    return scheme, host, port, addresses[0]


async def fetch_image(
    url: str,
    *,
    max_bytes: int,
    time_limit: float,
    trusted_hosts: Collection[str] = (),
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """The body at ``url`` (at most ``max_bytes``), following up to three checked redirects."""
    try:
        async with asyncio.timeout(time_limit):
            return await _fetch(url, max_bytes, trusted_hosts, transport)
    except TimeoutError as exc:
        raise FetchRefused("timeout", f"the image URL did not answer within {time_limit:g} s") from exc


async def _fetch(
    url: str, max_bytes: int, trusted: Collection[str], transport: httpx.AsyncBaseTransport | None
) -> bytes:
    async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            scheme, host, port, address = await _pinned_address(url, trusted)
            parts = urlsplit(url)
            literal = f"[{address}]" if ":" in address else address
            pinned = urlunsplit((scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
            default_port = 443 if scheme == "https" else 80
            headers = {"Host": host if port == default_port else f"{host}:{port}", "Accept": "image/*"}
            try:
                async with client.stream(
                    "GET", pinned, headers=headers, extensions={"sni_hostname": host}
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchRefused("bad_redirect", "the image URL redirected nowhere")
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise FetchRefused(
                            "http_status", f"the image URL answered HTTP {response.status_code}"
                        )
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchRefused("too_large", f"the image is over {max_bytes} bytes")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchRefused("too_large", f"the image is over {max_bytes} bytes")
                    return bytes(body)
            except httpx.HTTPError as exc:
                raise FetchRefused(
                    "unreachable", f"the image URL could not be fetched ({type(exc).__name__})"
                ) from exc
        raise FetchRefused("too_many_redirects", f"the image URL redirected more than {MAX_REDIRECTS} times")
