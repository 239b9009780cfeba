"""HTTP limits in front of the app, at the protocol level, before any request reaches FastAPI.

uvicorn (httptools) has a keep-alive timeout and ``limit_concurrency``, which answers 503 only
once a request's headers have arrived; it has no header size limit, no header or body read
timeout, and nothing stops connections that never finish their headers. This protocol adds them:

- the request head (request line and headers) may be at most ``max_header_bytes``: beyond it the
  connection gets 431 and is closed, so an unfinished 40 MB header costs one read buffer, not 40 MB;
- the head must arrive within ``header_timeout`` of the connection (or of the request's first
  byte on a kept-alive connection), the body within ``body_timeout`` of the head: 408 and close;
- at most ``max_connections`` connections per process: a new one first sheds an idle kept-alive
  connection, and is refused (503, closed) when none is idle.

docs/security.md records why this guard was chosen over uvicorn's h11 options and other servers.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from orchestrator.settings import Settings


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
            max_connections=settings.http_max_connections,
        )


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of :class:`HttpLimits`."""

    def __init__(self, *args: Any, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._head_bytes = 0
        self._reading_head = True
        self._deadline: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections and not self._shed_idle():
            self._refuse(503, "too many connections")
            return
        self._arm(self._limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Checked after parsing: the chunk that completes a head may carry body bytes too.
        if self._reading_head and self._head_bytes > self._limits.max_header_bytes:
            self._refuse(431, f"request head larger than {self._limits.max_header_bytes} bytes")

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = 0
        if self._deadline is None:  # a kept-alive connection's next request
            self._arm(self._limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._disarm()
        self._arm(self._limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # ------------------------------------------------------------------ helpers

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        what = "request head" if self._reading_head else "request body"
        self._refuse(408, f"{what} not received in time")

    def _idle(self) -> bool:
        """Kept alive between requests (uvicorn arms that timer only then)."""
        return self.timeout_keep_alive_task is not None

    def _shed_idle(self) -> bool:
        """Close one idle kept-alive connection to make room; False if none is idle."""
        for connection in list(self.connections):
            if (
                connection is not self
                and isinstance(connection, GuardedHttpToolsProtocol)
                and connection._idle()
                and not connection.transport.is_closing()
            ):
                connection.transport.close()
                return True
        return False

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` (when no response has started) and close the connection."""
        self._disarm()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            body = message.encode()
            transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status, _REASONS[status], len(body), body)
            )
        if self.cycle is not None:
            # The app sees a disconnect: its receive() ends and its answer, if any, goes nowhere.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        transport.close()


def guarded_protocol(limits: HttpLimits) -> Any:
    """What ``uvicorn.run(http=…)`` takes: a picklable factory, so ``--workers N`` works too."""
    return functools.partial(GuardedHttpToolsProtocol, limits=limits)
