"""Loopback webhook receivers that misbehave: one hangs, one drips its answer, one answers
without end. Each runs in its own threads (never the test's event loop) and counts requests."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

Behaviour = Literal["hang", "drip", "huge"]
HUGE_BYTES = 300 * 1024 * 1024


@dataclass
class HostileReceiver:
    url: str
    behaviour: Behaviour
    requests: int = 0
    sent_bytes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, sent: int = 0) -> None:
        with self._lock:
            self.sent_bytes += sent


def _read_request(conn: socket.socket) -> bool:
    """Read one request (headers and a Content-Length body); False if the peer went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


@contextmanager
def hostile_receiver(behaviour: Behaviour) -> Iterator[HostileReceiver]:
    receiver: HostileReceiver

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            conn.settimeout(60)
            try:
                if not _read_request(conn):
                    return
                with receiver._lock:
                    receiver.requests += 1
                if behaviour == "hang":
                    receiver.stop.wait(60)  # never answers; the caller must give up
                elif behaviour == "drip":
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                    for _ in range(1000):  # one byte every half second: 500 s in all
                        if receiver.stop.wait(0.5):
                            return
                        conn.sendall(b".")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n")
                    conn.sendall(f"content-length: {HUGE_BYTES}\r\n\r\n".encode())
                    block = b"x" * 65536
                    for _ in range(HUGE_BYTES // len(block)):
                        if receiver.stop.is_set():
                            return
                        conn.sendall(block)
                        receiver.count(len(block))
            except OSError:
                pass  # the caller hung up: what it should do

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    receiver = HostileReceiver(f"http://127.0.0.1:{server.server_address[1]}/hook", behaviour)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stop.set()
        server.shutdown()
        server.server_close()
