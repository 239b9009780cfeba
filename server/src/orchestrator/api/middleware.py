"""Pure ASGI middleware: request ids, response headers set by dependencies, and body-size caps.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses and SSE pass through untouched and the
per-request cost stays small.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        extra: dict[str, str] = {}
        state["response_headers"] = extra

        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send, request_id)
            return

        received = 0
        too_large = False

        async def capped_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if too_large:
                return  # the app's own answer to the aborted read is replaced by a 413 below
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                present = {k.lower() for k, _ in headers}
                for name, value in extra.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, capped_receive, send_with_headers)
        if too_large:
            await self._too_large(send, request_id)

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "payload_too_large",
                    "message": f"request body exceeds {self.max_body_bytes} bytes",
                    "param": None,
                    "request_id": request_id,
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
