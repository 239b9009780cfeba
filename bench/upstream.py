"""A fast loopback stand-in for OpenAI's Images API, for benchmarks only.

Answers every ``POST …/images/generations`` with one tiny base64 PNG after a fixed delay. It is a
bare asyncio protocol (keep-alive HTTP/1.1, no framework), so it serves tens of thousands of
requests per second on one core and never is the bottleneck of what it measures.

    python bench/upstream.py --port 9100 --latency 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import time

from PIL import Image


def tiny_png(side: int = 64) -> bytes:
    """A small real PNG, so the gateway under test can read, store and thumbnail it."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def canned_response() -> bytes:
    body = json.dumps(
        {
            "created": int(time.time()),
            "data": [
                {
                    "b64_json": base64.b64encode(tiny_png()).decode(),
                    "revised_prompt": "bench",
                }
            ],
        }
    ).encode()
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-request-id: req_bench\r\n\r\n"
    ).encode()
    return head + body


class _Protocol(asyncio.Protocol):
    def __init__(self, response: bytes, latency: float) -> None:
        self.response = response
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            if self.latency > 0:
                asyncio.get_running_loop().call_later(self.latency, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, latency: float) -> None:
    response = canned_response()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Protocol(response, latency),
        "127.0.0.1",
        port,
        backlog=4096,
        reuse_address=True,
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each answer"
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.latency))
    except ImportError:
        asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
