"""Measure how HTTP servers treat hostile connections: the numbers behind orchestrator.http_guard.

Each variant serves the same small ASGI app on a loopback port; the probes are raw sockets:

- ``big_header``: a header sent in 16 KB writes up to 1 MB: what the server answered, after how much;
- ``slow_head``: the request head one byte every 0.5 s: seconds until the server closed (cap 15 s);
- ``slow_body``: a 100-byte body one byte every 5 s: seconds until the server closed (cap 15 s);
- ``rss_40mb``: server RSS growth while 4 connections each send an unfinished 40 MB header;
- ``rps``: keep-alive GET requests per second over 8 connections for 3 s (relative cost).

Run: ``python bench/http_limits.py [variant …]``. uvicorn variants need only the dev lock; the
``granian`` and ``hypercorn`` variants need those packages installed (they are not dependencies).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""

VARIANTS = {
    "uvicorn-httptools": "import uvicorn; uvicorn.run(app, port=PORT, http='httptools', log_level='error')",
    "uvicorn-h11": "import uvicorn; uvicorn.run(app, port=PORT, http='h11', log_level='error', "
    "h11_max_incomplete_event_size=32768, timeout_keep_alive=5)",
    "uvicorn-guarded": "import uvicorn; from orchestrator.http_guard import HttpLimits, guarded_protocol; "
    "uvicorn.run(app, port=PORT, log_level='error', timeout_keep_alive=5, "
    "http=guarded_protocol(HttpLimits(max_header_bytes=32768, header_timeout=3, body_timeout=3, "
    "max_connections=1000)))",
    "hypercorn": "import asyncio; from hypercorn.config import Config; from hypercorn.asyncio import serve; "
    "c = Config(); c.bind = ['127.0.0.1:PORT']; c.h11_max_incomplete_size = 32768; c.read_timeout = 3; "
    "c.keep_alive_timeout = 5; asyncio.run(serve(app, c))",
    "granian": "from granian.server import Server; from granian.constants import Interfaces; "
    "from granian.http import HTTP1Settings; "
    "Server('appmodule:app', port=PORT, interface=Interfaces.ASGI, log_enabled=False, "
    "http1_settings=HTTP1Settings(header_read_timeout=3000, max_buffer_size=32768)).serve()",
}


def rss_kb(pid: int) -> int:
    total = 0
    for child in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    out = [int(c) for c in found]
    return out + [g for c in out for g in children(c)]


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def reply(sock: socket.socket, within: float) -> bytes | None:
    ready, _, _ = select.select([sock], [], [], within)
    if not ready:
        return None
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def big_header(port: int) -> str:
    sock = connect(port)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    answer = None
    while sent < 1_000_000:
        try:
            sock.sendall(b"a" * 16384)
        except OSError:
            answer = b""
            break
        sent += 16384
        answer = reply(sock, 0.02)
        if answer is not None:
            break
    if answer is None:
        sock.sendall(b"\r\n\r\n")
        answer = reply(sock, 5)
    sock.close()
    status = (answer or b"").split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
    return f"{status} after {sent // 1024} KB"


def slow(port: int, head: bytes, drip: bytes, every: float) -> str:
    sock = connect(port)
    started = time.monotonic()
    sock.sendall(head)
    while time.monotonic() - started < 15:
        answer = reply(sock, every)
        if answer == b"":
            return f"closed after {time.monotonic() - started:.1f} s"
        if answer:
            status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
            return f"{status} after {time.monotonic() - started:.1f} s"
        try:
            sock.sendall(drip)
        except OSError:
            return f"closed after {time.monotonic() - started:.1f} s"
    sock.close()
    return "open after 15 s"


def rss_40mb(port: int, pid: int) -> str:
    before = rss_kb(pid)
    socks = [connect(port) for _ in range(4)]

    def push(sock: socket.socket) -> None:
        sock.settimeout(5)
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(160):
                sock.sendall(b"a" * 262144)
        except OSError:
            pass

    threads = [threading.Thread(target=push, args=(s,)) for s in socks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown = (rss_kb(pid) - before) / 1024
    for sock in socks:
        sock.close()
    return f"{grown:+.0f} MB"


def rps(port: int) -> str:
    count = 0
    end = time.monotonic() + 3
    lock = threading.Lock()

    def loop() -> None:
        nonlocal count
        sock = connect(port)
        request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        done = 0
        while time.monotonic() < end:
            sock.sendall(request)
            data = b""
            while not data.endswith(b"ok"):
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            done += 1
        with lock:
            count += done
        sock.close()

    threads = [threading.Thread(target=loop) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return f"{count / 3:.0f}"


def measure(name: str, workdir: Path) -> dict[str, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    (workdir / "appmodule.py").write_text(textwrap.dedent(APP))
    code = "from appmodule import app\n" + VARIANTS[name].replace("PORT", str(port))
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=workdir,
        env={
            **os.environ,
            "PYTHONPATH": f"{workdir}:{os.environ.get('PYTHONPATH', '')}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            try:
                connect(port).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            return {"error": "did not start"}
        result = {"rps": rps(port), "big_header": big_header(port)}
        result["slow_head"] = slow(port, b"GET / HTTP/1.1\r\nHost: x\r\n", b"X", 0.5)
        result["slow_body"] = slow(
            port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", b" ", 5
        )
        result["rss_40mb"] = rss_40mb(port, proc.pid)
        return result
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def main() -> None:
    names = sys.argv[1:] or list(VARIANTS)
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "http-limits-bench"
    workdir.mkdir(exist_ok=True)
    for name in names:
        print(json.dumps({"variant": name, **measure(name, workdir)}), flush=True)


if __name__ == "__main__":
    main()
