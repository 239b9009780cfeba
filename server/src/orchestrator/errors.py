"""The one error envelope: ``{"error": {type, code, message, param, request_id}}``.

Services raise :class:`APIError` subclasses; the handlers installed by :func:`install_error_handlers`
render them, FastAPI's validation errors and anything unexpected in that same shape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger(__name__)

_REALM = 'Bearer realm="orchestrator"'
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')


def quoted(value: str, limit: int = 200) -> str:
    """``value`` as an RFC 9110 quoted-string that cannot break out of its header: only
    printable ASCII, no quote or backslash (they become ``'``), no CR/LF, bounded length."""
    return '"' + _UNSAFE_IN_QUOTES.sub("'", value[:limit]) + '"'


class APIError(Exception):
    """An error the API reports to the caller."""

    status_code = 400
    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        type: str | None = None,  # noqa: A002 - the envelope's field name
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if type is not None:
            self.type = type
        if status_code is not None:
            self.status_code = status_code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self, request_id: str | None) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "request_id": request_id,
        }
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(APIError):
    status_code = 422


class AuthenticationFailed(APIError):
    status_code = 401
    type = "authentication_error"
    code = "invalid_api_key"

    def __init__(
        self, message: str, *, code: str = "invalid_api_key", description: str | None = None
    ) -> None:
        # RFC 6750 §3: tell the client how to authenticate, and why it failed.
        challenge = _REALM
        if code != "missing_credentials":
            challenge += f', error="invalid_token", error_description={quoted(description or message)}'
        super().__init__(message, code=code, headers={"WWW-Authenticate": challenge})


class PermissionDenied(APIError):
    status_code = 403
    type = "permission_error"
    code = "insufficient_scope"

    def __init__(self, message: str, *, scope: str) -> None:
        super().__init__(
            message,
            headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope={quoted(scope)}'},
        )


class NotFound(APIError):
    status_code = 404
    type = "not_found"
    code = "not_found"


class ModelNotAvailable(APIError):
    status_code = 404
    type = "model_not_available"
    code = "model_not_available"


class BudgetExceeded(APIError):
    status_code = 402
    type = "budget_exceeded"
    code = "budget_exceeded"


class Conflict(APIError):
    status_code = 409
    type = "idempotency_conflict"
    code = "idempotency_conflict"


class RateLimited(APIError):
    status_code = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class GenerationFailed(APIError):
    """A job that ended in failure, reported on the synchronous endpoint."""

    status_code = 502
    type = "provider_error"
    code = "provider_error"


class StorageUnavailable(APIError):
    """Images could not be written or read: the server's storage, not the request, is at fault."""

    status_code = 503
    type = "storage_error"
    code = "storage_error"

    def __init__(self, message: str = "image storage is unavailable; retry later") -> None:
        super().__init__(message, headers={"Retry-After": "5"})


class PayloadTooLarge(APIError):
    status_code = 413
    code = "payload_too_large"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


StatusDialect = Callable[[int], int]


def error_response(request: Request, exc: APIError) -> JSONResponse:
    status = exc.status_code
    for prefix, dialect in getattr(request.app.state, "error_dialects", ()):
        if request.url.path.startswith(prefix):
            status = dialect(status)
    return JSONResponse(exc.body(_request_id(request)), status_code=status, headers=exc.headers)


def _loc_to_param(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) if parts else None


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    param = _loc_to_param(error.get("loc", ())) or "body"
    if kind == "extra_forbidden":
        return f"{param}: unknown field; remove it (see the API reference for allowed fields)"
    if kind == "missing":
        return f"{param}: field required"
    return f"{param}: {error.get('msg', 'invalid value')}"


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    message = "; ".join(_describe(e) for e in errors[:5]) or "invalid request"
    api_error = InvalidRequest(
        message,
        param=_loc_to_param(first.get("loc", ())),
        code="invalid_" + ("field" if first.get("type") != "extra_forbidden" else "unknown_field"),
    )
    return error_response(request, api_error)


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(request, exc)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    # Starlette's own `Allow` names only the first route matching the path; a path served by
    # several routes (GET and POST /keys) allows all of theirs. Ask the routes, method by method.
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        err: APIError = NotFound("no such route: " + request.url.path)
    elif exc.status_code == 405:
        err = APIError(
            f"method {request.method} not allowed here",
            code="method_not_allowed",
            status_code=405,
            headers={"Allow": _allowed_methods(request)},
        )
    elif exc.status_code == 400:  # FastAPI could not parse the body at all (e.g. nested too deep)
        err = APIError(
            "the request body could not be parsed; send one JSON document",
            param="body",
            code="invalid_body",
            status_code=400,
        )
    else:
        err = APIError(str(exc.detail), code="http_error", status_code=exc.status_code)
    return error_response(request, err)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    err = APIError(
        "internal error; quote the request id when reporting it",
        code="internal_error",
        status_code=500,
        type="internal_error",
    )
    return error_response(request, err)


def install_error_handlers(app: FastAPI, dialects: Sequence[tuple[str, StatusDialect]] = ()) -> None:
    """Render every error as the envelope. ``dialects`` remap statuses under a path prefix, for
    surfaces that mimic another API (the OpenAI-compatible one answers 400 where we answer 422)."""
    app.state.error_dialects = tuple(dialects)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(APIError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
