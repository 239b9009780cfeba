"""Renders every error as the one envelope: API errors, FastAPI's validation errors, Starlette's
HTTP errors and anything unexpected."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from orchestrator.errors.exceptions import APIError, InternalError, InvalidRequest, NotFound
from orchestrator.errors.table import ErrorCode

logger = logging.getLogger(__name__)


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
        code=ErrorCode.INVALID_UNKNOWN_FIELD
        if first.get("type") == "extra_forbidden"
        else ErrorCode.INVALID_FIELD,
    )
    return error_response(request, api_error)


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(request, exc)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


# A documented path template: its segments (None where the template has a parameter), how many
# are literal, and the methods documented for it.
_Template = tuple[tuple[str | None, ...], int, list[str]]


def _documented_paths(app: Any) -> dict[int, list[_Template]]:
    """The API reference's path templates by segment count, most literal first (document order
    among equals). Built once per app, at its first 405: the document does not change after."""
    table: dict[int, list[_Template]] | None = getattr(app.state, "documented_paths", None)
    if table is None:
        table = {}
        for template, operations in app.openapi().get("paths", {}).items():
            parts = tuple(None if p.startswith("{") else p for p in template.strip("/").split("/"))
            literal = sum(p is not None for p in parts)
            table.setdefault(len(parts), []).append((parts, literal, [m.upper() for m in operations]))
        for templates in table.values():
            templates.sort(key=lambda entry: -entry[1])  # stable: keeps document order among ties
        app.state.documented_paths = table
    return table


def _documented_methods(request: Request) -> list[str] | None:
    """The methods the API reference gives the path, from its most literal template: a literal
    path (POST /gallery/download) is not also the templated one beside it (GET /gallery/{id})."""
    segments = request.url.path.strip("/").split("/")
    for parts, _literal, methods in _documented_paths(request.app).get(len(segments), ()):
        if all(p is None or p == s for p, s in zip(parts, segments, strict=True)):
            return methods
    return None


def _allowed_methods(request: Request) -> str:
    # Starlette's own `Allow` names only the first route matching the path; a path served by
    # several routes (GET and POST /keys) allows all of theirs. The API reference decides where it
    # documents the path; otherwise ask the routes, method by method.
    documented = _documented_methods(request)
    if documented is not None:
        return ", ".join(method for method in _METHODS if method in documented)
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
        err = InvalidRequest(
            f"method {request.method} not allowed here",
            code=ErrorCode.METHOD_NOT_ALLOWED,
            headers={"Allow": _allowed_methods(request)},
        )
    elif exc.status_code == 400:  # FastAPI could not parse the body at all (e.g. nested too deep)
        err = InvalidRequest(
            "the request body could not be parsed; send one JSON document",
            param="body",
            code=ErrorCode.INVALID_BODY,
        )
    else:
        err = InvalidRequest(str(exc.detail), code=ErrorCode.HTTP_ERROR)
        err.status_code = exc.status_code  # Starlette's own refusal keeps its status
    return error_response(request, err)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    err = InternalError("internal error; quote the request id when reporting it")
    return error_response(request, err)


def install_error_handlers(app: FastAPI, dialects: Sequence[tuple[str, StatusDialect]] = ()) -> None:
    """Render every error as the envelope. ``dialects`` remap statuses under a path prefix, for
    surfaces that mimic another API (the OpenAI-compatible one answers 400 where we answer 422)."""
    app.state.error_dialects = tuple(dialects)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(APIError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
