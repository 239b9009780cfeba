"""Fetching an input image from a caller's URL through the outbound guard (``orchestrator.outbound``).

Only ``https`` (plain ``http`` only from operator-trusted hosts); the host is resolved once and
every address checked (no loopback, private, link-local or otherwise non-public address); the
connection goes to the checked address (pinned), with the name kept for TLS and ``Host``. Each
redirect is checked the same way before it is followed. The body is capped in bytes and the whole
fetch in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from urllib.parse import urljoin

import httpx

from orchestrator.outbound.guard import Policy, outbound_client, pinned_stream, read_capped, resolve_target
from orchestrator.outbound.targets import TargetRefused, parse_target

MAX_REDIRECTS = 3
STRICT = Policy(allow_private=False, private_setting="ORCHESTRATOR_INPUT_URL_TRUSTED_HOSTS")
TRUSTED = Policy(allow_private=True, private_setting="ORCHESTRATOR_INPUT_URL_TRUSTED_HOSTS")


class FetchRefused(ValueError):
    """The URL may not be fetched, or what it answered is unusable; ``rule`` names why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


async def fetch_image(
    url: str,
    *,
    max_bytes: int,
    time_limit: float,
    trusted_hosts: Collection[str] = (),
) -> bytes:
    """The body at ``url`` (at most ``max_bytes``), following up to three checked redirects."""
    try:
        async with asyncio.timeout(time_limit):
            return await _fetch(url, max_bytes, trusted_hosts, time_limit)
    except TimeoutError as exc:
        raise FetchRefused("timeout", f"the image URL did not answer within {time_limit:g} s") from exc


async def _fetch(url: str, max_bytes: int, trusted: Collection[str], step_seconds: float) -> bytes:
    async with outbound_client("freepik-orchestrator-input-fetch") as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                target = parse_target(url)
                is_trusted = f"{target.host}:{target.port}" in trusted
                if target.scheme != "https" and not is_trusted:
                    raise FetchRefused("https_only", "only https:// image URLs are fetched")
                pinned = await resolve_target(target, TRUSTED if is_trusted else STRICT)
            except TargetRefused as exc:
                rule = "private_address" if exc.code == "url_not_allowed" else exc.code
                raise FetchRefused(rule, f"the image URL {exc}") from exc
            try:
                async with pinned_stream(
                    client, "GET", pinned, headers={"accept": "image/*"}, step_seconds=step_seconds
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
                    body, more = await read_capped(response, max_bytes)
                    if more:
                        raise FetchRefused("too_large", f"the image is over {max_bytes} bytes")
                    return body
            except httpx.HTTPError as exc:
                raise FetchRefused(
                    "unreachable", f"the image URL could not be fetched ({type(exc).__name__})"
                ) from exc
        raise FetchRefused("too_many_redirects", f"the image URL redirected more than {MAX_REDIRECTS} times")
