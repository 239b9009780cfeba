"""A fast loopback stand-in for OpenAI's Images API, for benchmarks only.

Answers ``POST …/images/generations`` (JSON in) and ``POST …/images/edits`` (multipart in, as
OpenAI's edit endpoint takes it; anything else is a 400) with OpenAI's response,
``{"created": …, "data": [{"b64_json": <one tiny PNG>}]}``, after a fixed delay. Other paths are
404. ``GET /stats`` answers how many requests each path got, so a run can check what reached the
provider (a cache hit must not). It is a bare asyncio protocol (keep-alive HTTP/1.1, no
framework), so it serves tens of thousands of requests per second on one core and never is the
bottleneck of what it measures.

    python bench/upstream.py --port 9100 --latency 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import time

from PIL import Image, ImageFilter


def tiny_png(side: int = 64) -> bytes:
    """A small real PNG, so the gateway under test can read, store and thumbnail it."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def photo_png(side: int) -> bytes:
    """A PNG the size and weight of a real generation (1024 px: about 1.8 MB): smooth noise,
    which compresses like a photograph rather than like a flat colour. Seeded: the same every run."""
    rng = random.Random(side)
    coarse = Image.frombytes(
        "RGB", (side // 4, side // 4), rng.randbytes((side // 4) ** 2 * 3)
    )
    photo = coarse.resize((side, side), Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(2)
    )
    out = io.BytesIO()
    photo.save(out, "PNG")
    return out.getvalue()


def canned_response(image_side: int = 0) -> bytes:
    body = json.dumps(
        {
            "created": int(time.time()),
            "data": [
                {
                    "b64_json": base64.b64encode(
                        photo_png(image_side) if image_side else tiny_png()
                    ).decode(),
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


def _plain(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def _error(status: str, message: str) -> bytes:
    """OpenAI's error envelope."""
    body = {
        "error": {"message": message, "type": "invalid_request_error", "code": None}
    }
    return _plain(status, json.dumps(body).encode())


ROUTES = (b"/images/generations", b"/images/edits")
COUNTS: dict[str, int] = {}


class _Protocol(asyncio.Protocol):
    def __init__(self, response: bytes, latency: float) -> None:
        self.response = response
        self.latency = latency
        self.buffer = bytearray()  # grows in place: a 1 MB upload arrives in many reads
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            method, _, path = head.split(b"\r\n", 1)[0].partition(b" ")
            path = path.rsplit(b" ", 1)[0].split(b"?", 1)[0]
            key = path.decode(errors="replace")
            COUNTS[key] = COUNTS.get(key, 0) + 1
            if method == b"get" and path == b"/stats":
                self._answer(_plain("200 OK", json.dumps(COUNTS).encode()))
                continue
            if method != b"post" or not path.endswith(ROUTES):
                self._answer(_error("404 Not Found", f"no route {key}"))
                continue
            if (
                path.endswith(b"/images/edits")
                and b"content-type: multipart/form-data" not in head
            ):
                self._answer(
                    _error("400 Bad Request", "edits take multipart/form-data")
                )
                continue
            if self.latency > 0:
                asyncio.get_running_loop().call_later(
                    self.latency, self._answer, self.response
                )
            else:
                self._answer(self.response)

    def _answer(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, latency: float, image_side: int = 0) -> None:
    response = canned_response(image_side)
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
    parser.add_argument(
        "--image-side",
        type=int,
        default=0,
        help="answer a photo-like PNG this many pixels square (default: a tiny 64 px one)",
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.latency, args.image_side))
    except ImportError:
        asyncio.run(serve(args.port, args.latency, args.image_side))


if __name__ == "__main__":
    main()
