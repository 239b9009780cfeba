"""Infrastructure shared by the provider emulators.

An emulator is an ASGI app that speaks one provider's real wire format on loopback. This module
gives every emulator the same pieces:

- :class:`Faults`: knobs that make the next responses fail the way real providers fail
  (latency, 429 + Retry-After, 5xx, hangs, malformed JSON, content refusals, expired result URLs);
- :class:`EmulatorState`: the knobs, a log of received requests, and the result files it serves;
- :func:`control_routes`: ``/_emulator/*`` endpoints so the knobs can be scripted over HTTP;
- :func:`apply_faults`: the common fault pipeline, with the provider's own error bodies;
- :func:`serve_in_thread`: run any ASGI app on a real loopback port in a background thread;
- :func:`make_image` and :func:`parse_multipart` helpers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import colorsys
import dataclasses
import email.parser
import email.policy
import functools
import hashlib
import io
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import uvicorn
from PIL import Image, ImageDraw
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

CONTROL_PREFIX = "/_emulator"
MAX_FILES = 1000
"""Result files kept per emulator; older ones answer like expired URLs."""
MAX_RECORDED = 10_000
"""Requests kept in the log; a test never gets near it, a long-running CLI emulator would."""
FILES_PREFIX = "/_files"


# --------------------------------------------------------------------------- faults


@dataclass
class Faults:
    """Fault knobs. Counters mean "the next N API responses"; ``-1`` means "until cleared".

    Thread-safe: tests change them from the test thread while the emulator serves from its own.
    """

    latency: float = 0.0
    """Seconds added before every API response."""
    rate_limit: int = 0
    """Next N API requests answer 429 in the provider's own shape, with ``Retry-After``."""
    retry_after: float = 1.0
    """Seconds sent in ``Retry-After`` on those 429s."""
    server_errors: int = 0
    """Next N API requests answer ``server_error_status`` (5xx)."""
    server_error_status: int = 500
    hang: bool = False
    """API requests never answer (until cleared or the server stops)."""
    malformed: int = 0
    """Next N successful API responses carry a truncated, unparsable JSON body."""
    refuse: int = 0
    """Next N generations are refused by the "safety system" in the provider's own way."""
    expire_urls: bool = False
    """Result URLs answer as expired (provider CDN style 403/404) instead of serving the file."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take(self, name: str) -> bool:
        """Consume one unit of counter ``name``; ``True`` when this response must fail."""
        with self._lock:
            value: int = getattr(self, name)
            if value == 0:
                return False
            if value > 0:
                setattr(self, name, value - 1)
            return True

    def update(self, **changes: Any) -> None:
        """Set several knobs at once; unknown names raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(self) if not f.name.startswith("_")}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault knobs: {sorted(unknown)}; known: {sorted(known)}")
        with self._lock:
            for name, value in changes.items():
                current = getattr(self, name)
                setattr(self, name, type(current)(value))

    def reset(self) -> None:
        """Back to a healthy provider."""
        self.update(**type(self)().as_dict())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")
            }


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the emulator received (control endpoints are not recorded)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class EmulatorState:
    """What an emulator knows: its key, fault knobs, received requests and files it serves."""

    api_key: str | None = None
    """The key the emulator accepts; ``None`` accepts any non-empty key."""
    faults: Faults = field(default_factory=Faults)
    requests: list[RecordedRequest] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """Result files served under ``/_files/{token}``: token -> (bytes, content type)."""
    file_expiry: dict[str, float] = field(default_factory=dict)
    """token -> ``time.monotonic()`` after which the file answers as expired."""
    stopping: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body, time.monotonic()))
            if len(self.requests) > MAX_RECORDED:
                del self.requests[0]

    def calls(self, path_contains: str = "", method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path contains ``path_contains`` (and with ``method``)."""
        with self._lock:
            snapshot = list(self.requests)
        return [
            r for r in snapshot if path_contains in r.path and (method is None or r.method == method.upper())
        ]

    def count(self, path_contains: str = "", method: str | None = None) -> int:
        return len(self.calls(path_contains, method))

    def reset(self) -> None:
        """Clear faults, the request log and served files (between tests)."""
        self.faults.reset()
        with self._lock:
            self.requests.clear()
            self.files.clear()
            self.file_expiry.clear()

    def add_file(self, data: bytes, content_type: str, *, name: str, ttl: float | None = None) -> str:
        """Serve ``data`` and return its path (``/_files/{token}/{name}``); after ``ttl`` seconds
        the URL answers like an expired one."""
        token = hashlib.sha256(data + name.encode() + str(self.next_id()).encode()).hexdigest()[:24]
        with self._lock:
            self.files[token] = (data, content_type)
            if ttl is not None:
                self.file_expiry[token] = time.monotonic() + ttl
            while len(self.files) > MAX_FILES:  # long CLI runs: the oldest results "expire"
                del self.files[next(iter(self.files))]
        return f"{FILES_PREFIX}/{token}/{name}"

    def key_ok(self, presented: str | None) -> bool:
        if not presented:
            return False
        return self.api_key is None or presented == self.api_key


async def record_request(state: EmulatorState, request: Request) -> bytes:
    """Read the body and record the request; returns the body."""
    body = await request.body()
    state.record(request.method, request.url.path, dict(request.headers), body)
    return body


def bearer(request: Request, header: str = "authorization") -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    value = request.headers.get(header, "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


# --------------------------------------------------------------------------- fault pipeline


@dataclass(frozen=True, slots=True)
class FaultResponses:
    """How one provider renders the common faults (its own error bodies)."""

    rate_limited: Callable[[float], Response]
    server_error: Callable[[int], Response]


async def apply_faults(state: EmulatorState, responses: FaultResponses) -> Response | None:
    """Latency, hang, 429 and 5xx, in that order. ``None`` means: answer normally."""
    faults = state.faults
    if faults.latency > 0:
        await asyncio.sleep(faults.latency)
    # Polled rather than an asyncio.Event: the knob is flipped from other threads (tests, shutdown).
    while faults.hang and not state.stopping:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if faults.take("rate_limit"):
        return responses.rate_limited(faults.retry_after)
    if faults.take("server_errors"):
        return responses.server_error(faults.server_error_status)
    return None


def malformed_json(status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A success whose JSON body is cut off mid-object, as a broken proxy would send."""
    return Response(
        b'{"created": 1713833628, "data": [{"b64_json": "iVBOR',
        status_code,
        headers=headers,
        media_type="application/json",
    )


# --------------------------------------------------------------------------- control + files routes


def control_routes(state: EmulatorState) -> list[BaseRoute]:
    """``/_emulator/*`` endpoints and the result-file route, for any emulator.

    - ``GET  /_emulator/faults`` → current knobs; ``POST /_emulator/faults`` with a JSON object
      of knobs to change (e.g. ``{"rate_limit": 2, "retry_after": 3}``);
    - ``POST /_emulator/reset`` → healthy again, request log cleared;
    - ``GET  /_emulator/requests`` → the request log (method, path, body as text).
    """

    async def get_faults(_: Request) -> Response:
        return JSONResponse(state.faults.as_dict())

    async def set_faults(request: Request) -> Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            state.faults.update(**changes)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(state.faults.as_dict())

    async def reset(_: Request) -> Response:
        state.reset()
        return JSONResponse(state.faults.as_dict())

    async def requests(_: Request) -> Response:
        return JSONResponse(
            [
                {"method": r.method, "path": r.path, "body": r.body.decode("utf-8", "replace")[:10_000]}
                for r in state.calls()
            ]
        )

    async def file(request: Request) -> Response:
        await record_request(state, request)
        token = request.path_params["token"]
        expired = time.monotonic() > state.file_expiry.get(token, float("inf"))
        if state.faults.expire_urls or expired or token not in state.files:
            # CDN-style expiry: the object is gone (S3/GCS signed URLs answer 403, others 404).
            return Response(
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                403,
                media_type="application/xml",
            )
        data, content_type = state.files[token]
        return Response(data, media_type=content_type)

    return [
        Route(f"{CONTROL_PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/faults", set_faults, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/requests", requests, methods=["GET"]),
        Route(FILES_PREFIX + "/{token}/{name}", file, methods=["GET"]),
    ]


# --------------------------------------------------------------------------- images


@functools.lru_cache(maxsize=64)
def make_image(width: int, height: int, seed: int = 0, fmt: str = "PNG") -> bytes:
    """A deterministic, real image of exactly ``width`` x ``height`` (same args, same bytes).

    Cheap to encode (flat colours, fast compression) so emulated generations stay fast.
    """
    rng = hashlib.sha256(f"{width}x{height}:{seed}".encode()).digest()
    hue = rng[0] / 255.0

    def colour(h: float, light: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h % 1.0, light, 0.6)
        return int(r * 255), int(g * 255), int(b * 255)

    image = Image.new("RGB", (width, height), colour(hue, 0.35))
    draw = ImageDraw.Draw(image)
    for i in range(4):
        x0 = rng[1 + i] * width // 256
        y0 = rng[5 + i] * height // 256
        x1 = x0 + max(1, rng[9 + i] * width // 512)
        y1 = y0 + max(1, rng[13 + i] * height // 512)
        draw.rectangle((x0, y0, x1, y1), fill=colour(hue + 0.2 * (i + 1), 0.6))
    out = io.BytesIO()
    fmt = fmt.upper()
    if fmt == "PNG":
        image.save(out, "PNG", compress_level=1)
    elif fmt in ("JPEG", "JPG"):
        image.save(out, "JPEG", quality=80)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=60, method=0)
    else:
        raise ValueError(f"unsupported image format {fmt!r}")
    return out.getvalue()


MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "JPG": "image/jpeg", "WEBP": "image/webp"}


def parse_multipart(body: bytes, content_type: str) -> dict[str, str | bytes] | None:
    """Parse ``multipart/form-data`` with the stdlib (no python-multipart dependency).

    Text fields come back as ``str``, file fields (with a filename) as ``bytes``. ``None`` when
    the body is not multipart or cannot be parsed.
    """
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields: dict[str, str | bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields[name] = raw if part.get_filename() is not None else raw.decode("utf-8", "replace")
    return fields


def parse_multipart_parts(body: bytes, content_type: str) -> list[tuple[str, str | bytes]] | None:
    """Like :func:`parse_multipart`, but every part in order, so repeated names (``image[]``)
    are all kept. ``None`` when the body is not multipart."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    parts: list[tuple[str, str | bytes]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        parts.append((name, raw if part.get_filename() is not None else raw.decode("utf-8", "replace")))
    return parts


def image_info(data: bytes) -> tuple[str, int, int, str] | None:
    """``(format, width, height, mode)`` of image bytes, or ``None`` when they are not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return (image.format or "").upper(), image.width, image.height, image.mode
    except (OSError, ValueError):
        return None


def decode_data_uri(uri: str) -> bytes | None:
    """The bytes of a base64 ``data:`` URI, or ``None`` when it is not one."""
    header, sep, payload = uri.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        return None


# --------------------------------------------------------------------------- serving


class BackgroundServer:
    """An ASGI app served by uvicorn on a real loopback port in a daemon thread.

    Use as a context manager, or call :meth:`stop`. ``base_url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._on_stop = on_stop
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"emulator:{self.port}",
            daemon=True,
        )

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        until = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > until:
                raise RuntimeError(f"emulator on port {self.port} failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._on_stop is not None:
            self._on_stop()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start() if not self._thread.is_alive() else self

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve_in_thread(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, state: EmulatorState | None = None
) -> BackgroundServer:
    """Start ``app`` on ``host:port`` (0 = a free port) and return once it accepts connections.

    Pass the emulator's ``state`` so hung requests are released when the server stops.
    """

    def release() -> None:
        if state is not None:
            state.stopping = True

    return BackgroundServer(app, host=host, port=port, on_stop=release).start()


StateT = TypeVar("StateT", bound=EmulatorState)


@dataclass
class RunningEmulator(Generic[StateT]):
    """An emulator serving on loopback: where it listens and its live state (knobs, request log)."""

    server: BackgroundServer
    state: StateT

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> RunningEmulator[StateT]:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_emulator(
    app: ASGIApp, state: StateT, *, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator[StateT]:
    """Serve an emulator app (built with ``state``) on loopback; ``port=0`` picks a free port."""
    return RunningEmulator(serve_in_thread(app, host=host, port=port, state=state), state)
