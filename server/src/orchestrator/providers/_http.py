"""Small helpers every HTTP provider adapter shares.

Adapters own their wire format and their error *bodies*; everything that is the same across
providers lives here: bounding a request by the job's deadline, mapping transport failures and
status codes onto :class:`ProviderErrorKind`, ``Retry-After`` parsing, polling with backoff,
downloading result URLs and sniffing what an image really is.

None of these helpers ever sees a credential except :func:`redact`, whose job is to remove one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import io
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

import httpx
from PIL import Image, UnidentifiedImageError

from orchestrator.providers.base import (
    ProgressCallback,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderInput,
)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

MAX_IMAGE_BYTES = 64 * 1024 * 1024
"""Refuse result downloads larger than this: a provider never legitimately sends more."""

DEFAULT_TIMEOUT = 120.0
"""Per-request bound used when a request carries no deadline."""


# --------------------------------------------------------------------------- deadlines


def remaining(deadline: float | None, *, clock: Clock = time.monotonic) -> float | None:
    """Seconds left until ``deadline`` (never negative), or ``None`` when there is no deadline."""
    if deadline is None:
        return None
    return max(0.0, deadline - clock())


def timeout_error(provider: str, what: str = "the provider") -> ProviderError:
    """The one error raised when a request's deadline passes while waiting on a provider."""
    return ProviderError(
        ProviderErrorKind.TIMEOUT,
        f"deadline passed while waiting for {what}",
        provider=provider,
        provider_code="provider_timeout",
    )


def retryable(provider: str, message: str, code: str, status_code: int | None = None) -> ProviderError:
    """A transient upstream fault: retried, then the next route is tried."""
    return ProviderError(
        ProviderErrorKind.RETRYABLE, message, provider=provider, status_code=status_code, provider_code=code
    )


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    provider: str,
    deadline: float | None,
    clock: Clock = time.monotonic,
    on_line: Callable[[str], Awaitable[None]] | None = None,
) -> httpx.Response:
    """Send ``request`` bounded by ``deadline``, reading the whole body.

    With ``on_line``, a successful ``text/event-stream`` answer is not buffered: each line is
    passed to ``on_line`` as it arrives (the returned response then has no body to read).

    Transport failures become ``RETRYABLE`` errors; running out of time becomes ``TIMEOUT``.
    httpx timeouts are per read, so a server trickling bytes could outlive them: the total is
    bounded with ``asyncio.timeout`` as well.
    """
    left = remaining(deadline, clock=clock)
    if left is not None and left <= 0:
        raise timeout_error(provider)
    budget = DEFAULT_TIMEOUT if left is None else left
    request.extensions["timeout"] = httpx.Timeout(budget, connect=min(budget, 10.0)).as_dict()
    try:
        async with asyncio.timeout(budget):
            response = await client.send(request, stream=True)
            try:
                streaming = response.headers.get("content-type", "").startswith("text/event-stream")
                if on_line is not None and response.status_code < 400 and streaming:
                    async for line in response.aiter_lines():
                        await on_line(line)
                else:
                    await response.aread()
            finally:
                await response.aclose()
    except TimeoutError:
        if left is not None:
            raise timeout_error(provider) from None
        raise retryable(
            provider, f"no response from {provider} within {budget:.0f}s", "upstream_timeout"
        ) from None
    except httpx.TimeoutException as exc:
        if deadline is not None and clock() >= deadline - 0.01:
            raise timeout_error(provider) from exc
        raise retryable(provider, f"{provider} timed out ({type(exc).__name__})", "upstream_timeout") from exc
    except httpx.TransportError as exc:
        # Connection refused/reset, TLS and protocol errors: the provider is unreachable right now.
        raise retryable(
            provider, f"could not reach {provider}: {type(exc).__name__}: {exc}", "connection_error"
        ) from exc
    return response


# --------------------------------------------------------------------------- classification


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's requested wait in seconds, or ``None``.

    Reads ``retry-after-ms`` (float milliseconds, OpenAI), then ``retry-after`` as seconds (float
    allowed) or an HTTP-date. ``now`` is wall-clock (``time.time()``) for the date form.
    Negative or unparsable values give ``None``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = -1.0
        if ms >= 0:
            return ms / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None


def kind_for_status(status: int) -> ProviderErrorKind:
    """Default mapping of an HTTP error status; adapters special-case content refusals first."""
    if status in (408, 409, 425, 429) or status >= 500:
        return ProviderErrorKind.RETRYABLE
    if status in (401, 402, 403):
        return ProviderErrorKind.AUTH
    return ProviderErrorKind.INVALID_REQUEST


_MASKED_KEY = re.compile(r"\S*?\*{3,}[A-Za-z0-9_-]*")


def redact(text: str, secret: str | None) -> str:
    """Remove a credential from provider text: the secret itself and masked echoes of it.

    OpenAI, for one, echoes the first characters of a rejected key (``sk-abc***``); even that
    fragment stays out of our logs and error messages.
    """
    if secret:
        text = text.replace(secret, "[redacted]")
    return _MASKED_KEY.sub("[redacted]", text)


def status_error(
    provider: str,
    display: str,
    response: httpx.Response,
    message: str,
    *,
    code: str | None = None,
    kind: ProviderErrorKind | None = None,
    credential: str | None = None,
    secret: str | None = None,
) -> ProviderError:
    """Build the :class:`ProviderError` for an HTTP error response.

    ``display`` is the provider's human name ("OpenAI"); ``credential`` the setting an operator
    must fix (``ORCHESTRATOR_OPENAI_API_KEY``), named in AUTH messages. ``message`` is the
    provider's own text and is redacted of ``secret``.
    """
    kind = kind or kind_for_status(response.status_code)
    message = redact(message, secret).strip() or f"HTTP {response.status_code}"
    retry_after = parse_retry_after(response.headers) if kind is ProviderErrorKind.RETRYABLE else None
    if kind is ProviderErrorKind.AUTH and credential:
        text = f"{display} rejected {credential}: {message}"
    elif kind is ProviderErrorKind.CONTENT_POLICY:
        text = f"{display} refused the request: {message}"
    else:
        text = f"{display} returned HTTP {response.status_code}: {message}"
    return ProviderError(
        kind,
        text,
        provider=provider,
        status_code=response.status_code,
        retry_after=retry_after,
        provider_code=code,
    )


def json_body(response: httpx.Response, *, provider: str, display: str) -> Any:
    """Decode a JSON body. A malformed body on a *success* is a transient upstream fault."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise retryable(
            provider,
            f"{display} returned malformed JSON (HTTP {response.status_code}): {exc}",
            "malformed_response",
            response.status_code,
        ) from exc


def error_json(response: httpx.Response) -> dict[str, Any]:
    """Best-effort decode of an *error* body: ``{}`` when it is not a JSON object."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def malformed(provider: str, display: str, what: str) -> ProviderError:
    """A 2xx whose JSON is valid but does not have the shape the provider documents."""
    return retryable(provider, f"{display} returned an unexpected response: {what}", "malformed_response")


# --------------------------------------------------------------------------- polling


async def poll_until(
    check: Callable[[], Awaitable[T | None]],
    *,
    provider: str,
    deadline: float | None,
    interval: float = 0.5,
    max_interval: float = 5.0,
    backoff: float = 1.5,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> T:
    """Call ``check`` until it returns non-``None``; sleep between calls with capped backoff.

    Never sleeps past ``deadline``; raises ``TIMEOUT`` once it has passed. ``check`` should bound
    its own I/O by the same deadline (e.g. through :func:`send`).
    """
    delay = interval
    while True:
        left = remaining(deadline, clock=clock)
        if left is not None and left <= 0:
            raise timeout_error(provider)
        result = await check()
        if result is not None:
            return result
        left = remaining(deadline, clock=clock)
        if left is not None and left <= 0:
            raise timeout_error(provider)
        await sleep(delay if left is None else min(delay, left))
        delay = min(max_interval, delay * backoff)


# --------------------------------------------------------------------------- images


def sniff_image(data: bytes, *, provider: str) -> ProviderImage:
    """Identify image bytes with Pillow (header only); non-images are a RETRYABLE upstream fault."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise retryable(
            provider, f"{provider} returned {len(data)} bytes that are not an image", "malformed_response"
        ) from exc
    content_type = Image.MIME.get(fmt.upper(), f"image/{fmt.lower() or 'octet-stream'}")
    return ProviderImage(data=data, content_type=content_type, width=width, height=height)


async def download_image(
    client: httpx.AsyncClient,
    url: str,
    deadline: float | None,
    *,
    provider: str,
    headers: Mapping[str, str] | None = None,
) -> ProviderImage:
    """Fetch a provider's result URL and sniff it.

    Result URLs are short-lived: 403/404/410 mean it expired or never existed. Generating again
    yields a fresh URL, so that is ``RETRYABLE`` (code ``result_url_expired``), as are 429/5xx.
    ``headers`` is only for providers whose result URLs need auth; by default none is sent, so a
    credential never leaks to a CDN host.
    """
    if url.startswith("data:"):
        return _decode_data_url(url, provider=provider)
    request = client.build_request("GET", url, headers=dict(headers or {}))
    response = await send(client, request, provider=provider, deadline=deadline)
    if response.status_code in (403, 404, 410):
        raise retryable(
            provider,
            f"{provider} result URL has expired or is gone (HTTP {response.status_code})",
            "result_url_expired",
            response.status_code,
        )
    if response.status_code >= 400:
        kind = kind_for_status(response.status_code)
        if kind is ProviderErrorKind.AUTH:  # only 401/402 remain here; treat like any bad fetch
            kind = ProviderErrorKind.INVALID_REQUEST
        raise ProviderError(
            kind,
            f"downloading the {provider} result failed with HTTP {response.status_code}",
            provider=provider,
            status_code=response.status_code,
            retry_after=parse_retry_after(response.headers),
            provider_code="result_download_failed",
        )
    if len(response.content) > MAX_IMAGE_BYTES:
        raise ProviderError(
            ProviderErrorKind.INVALID_REQUEST,
            f"{provider} result is larger than {MAX_IMAGE_BYTES} bytes",
            provider=provider,
            provider_code="result_too_large",
        )
    return sniff_image(response.content, provider=provider)


def _decode_data_url(url: str, *, provider: str) -> ProviderImage:
    header, _, payload = url.partition(",")
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else payload.encode()
    except (binascii.Error, ValueError) as exc:
        raise retryable(
            provider, f"{provider} returned an undecodable data URL", "malformed_response"
        ) from exc
    return sniff_image(data, provider=provider)


def data_uri(data: bytes, content_type: str) -> str:
    """``data`` as a base64 ``data:`` URI."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def decode_b64_image(payload: str, *, provider: str, display: str) -> ProviderImage:
    """Decode a base64 image field (OpenAI ``b64_json``, Stability ``image``) and sniff it."""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise malformed(provider, display, "image is not valid base64") from exc
    return sniff_image(data, provider=provider)


# --------------------------------------------------------------------------- sizes


def nearest_aspect_ratio(width: int, height: int, choices: Iterable[str]) -> str:
    """The ``"W:H"`` choice closest to ``width/height`` (compared in log space, so 2:1 and 1:2
    are equally far from 1:1)."""
    target = math.log(width / height)

    def distance(choice: str) -> float:
        w, _, h = choice.partition(":")
        return abs(math.log(float(w) / float(h)) - target)

    return min(choices, key=distance)


def nearest_size(width: int, height: int, choices: Iterable[str]) -> str:
    """The ``"WxH"`` choice closest in aspect ratio, then in area, to ``width`` x ``height``."""
    target_ratio = math.log(width / height)
    target_area = width * height

    def distance(choice: str) -> tuple[float, float]:
        w, _, h = choice.partition("x")
        cw, ch = int(w), int(h)
        return (round(abs(math.log(cw / ch) - target_ratio), 6), abs(cw * ch - target_area))

    return min(choices, key=distance)


def follows_input(width: int, height: int, image: ProviderInput) -> bool:
    """Whether the requested ``width`` x ``height`` has the input image's aspect ratio (within
    rounding), so a route whose output follows its input needs no aspect of its own."""
    return abs(math.log((width / height) / (image.width / image.height))) < 0.01


async def pause_for_retry_after(retry_after: float | None, deadline: float | None) -> None:
    """Honour a poll's ``Retry-After`` without sleeping past the deadline."""
    if retry_after:
        left = remaining(deadline)
        await asyncio.sleep(retry_after if left is None else min(retry_after, left))


def monotonic_progress(on_progress: ProgressCallback) -> Callable[[float], Coroutine[Any, Any, None]]:
    """Report each fraction once and never go backwards (status polls repeat themselves)."""
    last = -1.0

    async def report(fraction: float) -> None:
        nonlocal last
        if fraction > last:
            last = fraction
            await on_progress(fraction)

    return report
