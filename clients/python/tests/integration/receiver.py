"""A loopback HTTP server that records the webhooks POSTed to it (raw body and headers)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """``with WebhookReceiver() as receiver:`` listens on 127.0.0.1; ``wait_for(n)`` waits on an
    event, never a sleep. ``status`` is what it answers (200 by default)."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._changed:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    receiver._changed.notify_all()

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(
                    f"{len(self.received)} webhook(s) received in {timeout} s, wanted {count}"
                )
            return list(self.received)
