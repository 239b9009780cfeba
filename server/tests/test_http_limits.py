"""HTTP limits of a real `orchestrator serve`, driven with raw sockets.

Header size, header and body read timeouts, the connection cap and idle shedding are enforced
in front of the app (orchestrator.http_guard); before, a 1 MB header was answered, slow senders
were held forever and unfinished 40 MB headers were buffered whole.
"""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

LIMITS = {
    "ORCHESTRATOR_HTTP_MAX_HEADER_BYTES": "32768",
    "ORCHESTRATOR_HTTP_HEADER_TIMEOUT_SECONDS": "1.5",
    "ORCHESTRATOR_HTTP_BODY_TIMEOUT_SECONDS": "2",
    "ORCHESTRATOR_HTTP_MAX_CONNECTIONS": "6",
    "ORCHESTRATOR_HTTP_KEEP_ALIVE_SECONDS": "30",
}


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answered(sock: socket.socket, within: float) -> bytes | None:
    """What the server sent (b"" = it closed) within ``within`` seconds, or None if nothing."""
    ready, _, _ = select.select([sock], [], [], within)
    if not ready:
        return None
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def closed_within(sock: socket.socket, within: float) -> tuple[bool, bytes]:
    """Read until the server closes the connection; (closed in time, everything read)."""
    end = time.monotonic() + within
    data = b""
    while (left := end - time.monotonic()) > 0:
        chunk = answered(sock, left)
        if chunk is None:
            return False, data
        if chunk == b"":
            return True, data
        data += chunk
    return False, data


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served(module_serve_process):
    """One server for the tests that each hold their own connections and close them; the
    connection-cap test, which counts every open connection, has a server of its own."""
    return module_serve_process(**LIMITS)


def test_a_1mb_header_is_refused_with_431_before_it_is_all_sent(served) -> None:
    _, url = served
    sock = connect(url)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent, reply = 0, None
    while sent < 1_000_000:
        try:
            sock.sendall(b"a" * 16384)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 16384
        reply = answered(sock, 0.05)
        if reply is not None:
            break
    assert sent < 1_000_000, "the whole 1 MB header was accepted"
    if reply is None:
        reply = answered(sock, 2)
    assert reply is not None and reply.startswith(b"HTTP/1.1 431"), reply
    sock.close()


def test_a_request_head_sent_slowly_is_closed_at_the_header_timeout(served) -> None:
    _, url = served
    sock = connect(url)
    started = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed, data = False, b""
    while time.monotonic() - started < 6:  # slowloris: a header byte every 0.3 s
        try:
            sock.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        chunk = answered(sock, 0.3)
        if chunk is not None:
            data += chunk
            closed, rest = closed_within(sock, 1)
            data += rest
            break
    elapsed = time.monotonic() - started
    assert closed, "still open after 6 s"
    assert 1.0 <= elapsed < 3.5, elapsed
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
    sock.close()


def test_a_silent_connection_is_closed_at_the_header_timeout(served) -> None:
    _, url = served
    sock = connect(url)
    closed, data = closed_within(sock, 4)
    assert closed and data.startswith(b"HTTP/1.1 408"), data
    sock.close()


def test_a_body_sent_a_byte_every_5_s_is_closed_at_the_body_timeout(served) -> None:
    _, url = served
    sock = connect(url)
    started = time.monotonic()
    sock.sendall(
        b"POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    closed = False
    while time.monotonic() - started < 12:
        got = answered(sock, 5)
        if got == b"":
            closed = True
            break
        if got is None:
            try:
                sock.sendall(b" ")  # the next byte, 5 s later
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        else:
            closed, _ = closed_within(sock, 5)
            break
    elapsed = time.monotonic() - started
    assert closed and elapsed < 5, elapsed
    sock.close()


def test_unfinished_40mb_headers_do_not_grow_the_server(served) -> None:
    proc, url = served
    before = rss_kb(proc.pid)
    socks = [connect(url) for _ in range(4)]
    chunk = b"a" * 262144
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sock.settimeout(2)
        for _ in range(160):  # 40 MB, never finished
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
    grown_mb = (rss_kb(proc.pid) - before) / 1024
    for sock in socks:
        sock.close()
    assert grown_mb < 20, f"RSS grew by {grown_mb:.0f} MB"


def test_connections_past_the_cap_shed_an_idle_one_then_are_refused(serve_process) -> None:
    _, url = serve_process(**LIMITS)
    idle = connect(url)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (answered(idle, 5) or b"").startswith(b"HTTP/1.1 200")  # now kept alive, idle
    busy = [connect(url) for _ in range(5)]  # the cap is 6: these are mid-request
    for sock in busy:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    extra = connect(url)  # the 7th: sheds the idle one and is served
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (answered(extra, 5) or b"").startswith(b"HTTP/1.1 200")
    assert closed_within(idle, 2)[0], "the idle connection was not shed"
    assert closed_within(extra, 2)[0]
    busy.append(connect(url))  # six connections mid-request: at the cap, none idle
    busy[-1].sendall(b"GET /healthz HTTP/1.1\r\n")
    refused = connect(url)  # refused at once
    closed, data = closed_within(refused, 2)
    assert closed and data.startswith(b"HTTP/1.1 503"), data
    for sock in [*busy, extra, refused]:
        sock.close()
