"""The exceptions services raise. Each one's status and envelope type come from the error table;
a class stands for one ``error.type`` family and carries any code of that family."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from orchestrator.errors.table import ERRORS, ErrorCode, ErrorType

_REALM = 'Bearer realm="orchestrator"'
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')


def quoted(value: str, limit: int = 200) -> str:
    """``value`` as an RFC 9110 quoted-string that cannot break out of its header: only
    printable ASCII, no quote or backslash (they become ``'``), no CR/LF, bounded length."""
    return '"' + _UNSAFE_IN_QUOTES.sub("'", value[:limit]) + '"'


class APIError(Exception):
    """An error the API reports to the caller, as the envelope
    ``{"error": {type, code, message, param, request_id}}``.

    ``code`` picks the table row: its status (one of the row's statuses may be chosen with
    ``status_code`` where the row names several) and its type.
    """

    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        param: str | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = ErrorCode(code or self.default_code)
        spec = ERRORS[self.code]
        if status_code is not None and status_code not in spec.statuses:
            raise ValueError(f"{self.code} is never answered with {status_code}; see the error table")
        self.status_code = status_code or spec.status
        self.type: ErrorType = spec.type
        self.retryable = spec.retryable
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self, request_id: str | None) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.type.value,
            "code": self.code.value,
            "message": self.message,
            "param": self.param,
            "request_id": request_id,
        }
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(APIError):
    default_code = ErrorCode.INVALID_REQUEST


class AuthenticationFailed(APIError):
    default_code = ErrorCode.INVALID_API_KEY

    def __init__(
        self, message: str, *, code: ErrorCode = ErrorCode.INVALID_API_KEY, description: str | None = None
    ) -> None:
        # RFC 6750 §3: tell the client how to authenticate, and why it failed.
        challenge = _REALM
        if code != ErrorCode.MISSING_CREDENTIALS:
            challenge += f', error="invalid_token", error_description={quoted(description or message)}'
        super().__init__(message, code=code, headers={"WWW-Authenticate": challenge})


class PermissionDenied(APIError):
    default_code = ErrorCode.INSUFFICIENT_SCOPE

    def __init__(
        self,
        message: str,
        *,
        scope: str | None = None,
        code: ErrorCode | None = None,
        param: str | None = None,
    ) -> None:
        headers = {}
        if scope is not None:
            headers["WWW-Authenticate"] = f'{_REALM}, error="insufficient_scope", scope={quoted(scope)}'
        super().__init__(message, code=code, param=param, headers=headers)


class NotFound(APIError):
    default_code = ErrorCode.NOT_FOUND


class ModelNotAvailable(APIError):
    default_code = ErrorCode.MODEL_NOT_AVAILABLE


class BudgetExceeded(APIError):
    default_code = ErrorCode.BUDGET_EXCEEDED


class Conflict(APIError):
    default_code = ErrorCode.IDEMPOTENCY_KEY_IN_USE


class RateLimited(APIError):
    default_code = ErrorCode.RATE_LIMIT_EXCEEDED


class StorageUnavailable(APIError):
    """Images could not be written or read: the server's storage, not the request, is at fault."""

    default_code = ErrorCode.STORAGE_ERROR

    def __init__(self, message: str = "image storage is unavailable; retry later") -> None:
        super().__init__(message, headers={"Retry-After": "5"})


class InternalError(APIError):
    default_code = ErrorCode.INTERNAL_ERROR


def error_for(code: str | None, message: str, **fields: Any) -> APIError:
    """An :class:`APIError` for a stored code (a job's failure); unknown codes become internal."""
    try:
        known = ErrorCode(code or "")
    except ValueError:
        known = ErrorCode.INTERNAL_ERROR
    return APIError(message, code=known, **fields)
