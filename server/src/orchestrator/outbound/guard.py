"""The outbound guard: parse, check, resolve and pin a user-supplied URL.

:func:`resolve_target` checks every address the name resolves to and returns one of them; the
request is then sent to that address (the URL's host travels in ``Host`` and, for https, in SNI
and certificate verification). There is no second lookup, so no DNS answer that changes between
the check and the connection (rebinding) can aim the request elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from orchestrator.outbound.addresses import IPAddress, refusal
from orchestrator.outbound.targets import Target, TargetRefused, parse_target

RESOLVE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Policy:
    """What one kind of outbound call may reach."""

    allow_private: bool
    private_setting: str
    """The setting that allows private targets, named in refusals (e.g. ``ORCHESTRATOR_…``)."""

    def check(self, host: str, address: IPAddress) -> None:
        refused = refusal(address)
        if refused is None:
            return
        kind, what = refused
        where = f"{host!r} is" if host == str(address) else f"{host!r} resolves to {address}, which is"
        if kind == "never":
            raise TargetRefused(f"host {where} {what}; it cannot be called", code="url_not_allowed")
        if not self.allow_private:
            raise TargetRefused(
                f"host {where} {what}; only public addresses are called",
                code="url_not_allowed",
                setting=self.private_setting,
            )


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """A checked target and the one address its connection goes to."""

    target: Target
    address: IPAddress

    def request_url(self) -> httpx.URL:
        host = f"[{self.address}]" if isinstance(self.address, ipaddress.IPv6Address) else str(self.address)
        return httpx.URL(f"{self.target.scheme}://{host}:{self.target.port}{self.target.path}")

    def extensions(self) -> dict[str, str]:
        if self.target.scheme == "https" and self.target.address is None:
            return {"sni_hostname": self.target.host}  # and the certificate is checked for it
        return {}


def check_url(url: str, policy: Policy) -> Target:
    """Parse ``url`` and, when its host is an address, check it (no DNS). Raises TargetRefused."""
    target = parse_target(url)
    if target.address is not None:
        policy.check(target.host, target.address)
    return target


async def resolve_target(
    target: Target, policy: Policy, *, resolve_seconds: float = RESOLVE_TIMEOUT
) -> PinnedTarget:
    """Resolve ``target`` and check every address; the first one is pinned. Raises TargetRefused."""
    if target.address is not None:
        policy.check(target.host, target.address)
        return PinnedTarget(target, target.address)
    try:
        async with asyncio.timeout(resolve_seconds):
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise TargetRefused(f"host {target.host!r} does not resolve", code="url_unresolvable") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"host {target.host!r} does not resolve", code="url_unresolvable")
    for address in addresses:  # all of them: a mixed answer is a rebinding attempt
        policy.check(target.host, address)
    return PinnedTarget(target, addresses[0])


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once per process: loading the trust store costs
    tens of milliseconds of CPU, and every outbound client (one per fetched input) paid it."""
    return httpx.create_ssl_context(trust_env=False)


def outbound_client(user_agent: str) -> httpx.AsyncClient:
    """A client for pinned requests: no redirects (a public URL must not bounce us into a
    private network), no proxies from the environment (the proxy would resolve the name again),
    and no kept-alive connections (one is never reused for a request checked for another name)."""
    return httpx.AsyncClient(
        verify=_tls_context(),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        headers={"user-agent": user_agent},
    )


@asynccontextmanager
async def pinned_stream(
    client: httpx.AsyncClient,
    method: str,
    pinned: PinnedTarget,
    *,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    step_seconds: float,
) -> AsyncIterator[httpx.Response]:
    """Send a request to the pinned address; the answer's body is left unread (stream it).
    ``step_seconds`` bounds each network step; bound the whole exchange with ``asyncio.timeout``."""
    request = client.build_request(
        method,
        pinned.request_url(),
        content=content,
        headers={**(headers or {}), "host": pinned.target.host_header},
        timeout=step_seconds,
        extensions=pinned.extensions(),
    )
    response = await client.send(request, stream=True)
    try:
        yield response
    finally:
        await response.aclose()


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """Up to ``cap`` bytes of the body, and whether there was more (the rest is never read)."""
    kept = bytearray()
    async for chunk in response.aiter_raw():
        room = cap - len(kept)
        kept += chunk[:room]
        if len(chunk) > room:
            return bytes(kept), True
    return bytes(kept), False
