"""Pure ASGI middleware: request ids, the access log line, response headers set by dependencies,
and body-size caps.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses and SSE pass through untouched and the
per-request cost stays small.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.errors import ErrorCode, InvalidRequest
from orchestrator.logs import access_logger, begin_request, end_request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# An API key pasted into a URL must not reach the logs with it.
_KEY_SHAPED = re.compile(r"sk-(test|live)-[A-Za-z0-9]+")


def _redact(value: str | None) -> str | None:
    return None if value is None else _KEY_SHAPED.sub(r"sk-\1-[redacted]", value)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        upload_paths: frozenset[str] = frozenset(),
        max_upload_body_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Endpoints that take image uploads get their own, larger cap; every other keeps the small one.
        self.upload_paths = upload_paths
        self.max_upload_body_bytes = max_upload_body_bytes or max_body_bytes

    def _limit(self, scope: Scope) -> int:
        path = str(scope.get("path", "")).rstrip("/")
        return self.max_upload_body_bytes if path in self.upload_paths else self.max_body_bytes

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
        if not access_logger.isEnabledFor(logging.INFO):
            await self._handle(scope, receive, send, request_id, extra)
            return
        started = time.perf_counter()
        token = begin_request(state)
        status = 500  # what the client sees if the app raises before answering
        try:

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self._handle(scope, receive, send_status, request_id, extra)
        finally:
            end_request(token)
            principal = state.get("principal")
            path_params = scope.get("path_params") or {}
            access_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": _redact(scope["path"]),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "request_id": request_id,
                    "key_id": None if principal is None else principal.subject,
                    "generation_id": _redact(state.get("generation_id") or path_params.get("generation_id")),
                },
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, extra: dict[str, str]
    ) -> None:
        limit = self._limit(scope)
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(send, request_id, limit)
            return

        received = 0
        too_large = False

        async def capped_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
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
            await self._too_large(send, request_id, limit)

    async def _too_large(self, send: Send, request_id: str, limit: int) -> None:
        error = InvalidRequest(f"request body exceeds {limit} bytes", code=ErrorCode.PAYLOAD_TOO_LARGE)
        body = json.dumps(error.body(request_id)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status_code,
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
