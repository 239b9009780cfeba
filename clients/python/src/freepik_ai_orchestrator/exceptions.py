"""Exceptions raised by the client, and the one function that maps an HTTP error to a class.

Tree::

    OrchestrationError                also: a missing API key (code ``missing_credentials``)
    ├── DestinationExistsError        download() would replace a file (also a FileExistsError)
    ├── WebhookVerificationError      a webhook is not authentic (``webhooks`` module)
    ├── APIConnectionError            the request never got an HTTP answer
    │   └── APITimeoutError           ... because a timeout expired
    └── APIStatusError                the server answered with an error status
        ├── InvalidRequestError       400, 422 (and other unmapped 4xx)
        │   └── ContentPolicyError    422 content_policy_violation
        ├── AuthenticationError       401
        │   └── PermissionDeniedError 403
        ├── BudgetExceededError       402
        ├── NotFoundError             404
        ├── ModelNotAvailableError    404 / 503 with type model_not_available
        ├── ConflictError             409
        ├── RateLimitError            429 (.retry_after)
        ├── ProviderError             502, 504
        │   └── ProviderTimeoutError  504 provider_timeout
        └── InternalServerError       other 5xx

Every exception carries ``message``, ``status_code``, ``code``, ``type``, ``param``,
``request_id``, ``generation_id``, ``body`` and ``headers`` (``None``/empty when unknown).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BudgetExceededError",
    "ConflictError",
    "ContentPolicyError",
    "DestinationExistsError",
    "InternalServerError",
    "InvalidRequestError",
    "ModelNotAvailableError",
    "NotFoundError",
    "OrchestrationError",
    "PermissionDeniedError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "exception_for_error",
]


class OrchestrationError(Exception):
    """Base class of every error this client raises."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        generation_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.generation_id = generation_id
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        parts = [self.message]
        details = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status_code),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        if details:
            parts.append("(" + ", ".join(details) + ")")
        return " ".join(parts)


class DestinationExistsError(OrchestrationError, FileExistsError):
    """``download()`` would replace an existing file (``overwrite=False``). Also a
    :class:`FileExistsError` (``errno`` EEXIST, ``filename`` the path), so ``except
    FileExistsError`` keeps working."""

    def __init__(self, message: str, path: str) -> None:
        FileExistsError.__init__(self, errno.EEXIST, message, path)
        self.message = message
        self.status_code = None
        self.code = "file_exists"
        self.type = None
        self.param = None
        self.request_id = None
        self.generation_id = None
        self.body = None
        self.headers = {}

    def __str__(self) -> str:
        return self.message


class APIConnectionError(OrchestrationError):
    """No HTTP response was received (DNS, refused connection, reset...). ``__cause__`` holds the
    underlying ``httpx`` exception."""


class APITimeoutError(APIConnectionError):
    """A timeout expired: the call's ``timeout``/``wait_timeout`` budget, or one request's phase
    limit. ``generation_id`` is set when the job exists (it keeps running on the server)."""


class APIStatusError(OrchestrationError):
    """The server answered with an error status; ``status_code`` is always set."""

    status_code: int


class InvalidRequestError(APIStatusError):
    """The request was malformed or refused by validation (400, 422)."""


class ContentPolicyError(InvalidRequestError):
    """The prompt was refused by a safety system (422 ``content_policy_violation``)."""


class AuthenticationError(APIStatusError):
    """Missing, unknown or revoked credentials (401)."""


class PermissionDeniedError(AuthenticationError):
    """Valid credentials without the needed scope (403)."""


class BudgetExceededError(APIStatusError):
    """The key's or project's budget is spent (402)."""


class NotFoundError(APIStatusError):
    """No such resource (404)."""


class ModelNotAvailableError(APIStatusError):
    """The model is unknown (404) or no provider can serve it now (503)."""


class ConflictError(APIStatusError):
    """Idempotency conflict, or an operation that does not fit the resource's state (409)."""


class RateLimitError(APIStatusError):
    """Too many requests (429). ``retry_after`` is the server's wait hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.limit = _int_header(self.headers, "ratelimit-limit")
        self.remaining = _int_header(self.headers, "ratelimit-remaining")
        self.reset = _int_header(self.headers, "ratelimit-reset")


class ProviderError(APIStatusError):
    """The upstream image provider failed (502), or a generation failed while we waited for it."""


class ProviderTimeoutError(ProviderError):
    """The upstream provider did not answer in time (504 ``provider_timeout``)."""


class InternalServerError(APIStatusError):
    """The orchestrator itself failed (5xx other than 502/504, and 503 without model info)."""


# --------------------------------------------------------------------------------------------
# Mapping. One function decides the class for every error the server can send, so the sync and
# async clients, batch items and failed jobs cannot disagree.

# The HTTP status implied by an envelope ``type`` when there is no response status (batch
# items and failed jobs carry only the error object).
_STATUS_FOR_TYPE: dict[str, int] = {
    "invalid_request_error": 422,
    "authentication_error": 401,
    "permission_error": 403,
    "budget_exceeded": 402,
    "not_found": 404,
    "model_not_available": 404,
    "idempotency_conflict": 409,
    "conflict": 409,
    "rate_limit_error": 429,
    "provider_error": 502,
    "provider_timeout": 504,
    "internal_error": 500,
}
# A failed job reports only ``{code, message}``; these are the statuses the synchronous endpoint
# answers for the same codes (server ``generation/outcome.py``), so both paths raise alike.
_STATUS_FOR_CODE: dict[str, int] = {
    "content_policy_violation": 422,
    "provider_timeout": 504,
    "provider_error": 502,
    "provider_rejected_request": 502,
    "provider_auth_failed": 502,
    "model_not_available": 503,
    "generation_canceled": 409,
    "rate_limit_exceeded": 429,
    "budget_exceeded": 402,
}


_FIXED_4XX: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    402: BudgetExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def _class_for(status: int, type_: str | None, code: str | None) -> type[APIStatusError]:
    if "model_not_available" in (type_, code) and status in (404, 503):
        return ModelNotAvailableError
    if status == 408:
        return APIStatusError  # the server gave up waiting for our request: retried, not a bad request
    if status in (400, 422) or (400 <= status < 500 and status not in _FIXED_4XX):
        return ContentPolicyError if code == "content_policy_violation" else InvalidRequestError
    if status in _FIXED_4XX:
        return _FIXED_4XX[status]
    if status in (502, 504):
        if code == "provider_timeout" or type_ == "provider_timeout":
            return ProviderTimeoutError
        return ProviderError
    if status >= 500:
        return InternalServerError
    return APIStatusError


def exception_for_error(
    status_code: int | None,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    retry_after: float | None = None,
    text: str | None = None,
) -> APIStatusError:
    """Build the exception for an error answer.

    ``body`` is the decoded JSON body (the envelope ``{"error": {...}}``, a bare error object, or
    anything else a proxy may have sent). When ``status_code`` is ``None`` (a batch item or a
    failed job) the status is inferred from the error's ``status``, ``code`` or ``type``.
    """
    error: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            error = inner
        elif "code" in body or "type" in body or "message" in body:
            error = body
    type_ = _str_or_none(error.get("type"))
    code = _str_or_none(error.get("code"))
    if status_code is None:
        status_code = _inferred_status(error, type_, code)
    message = _str_or_none(error.get("message")) or _fallback_message(status_code, body, text)
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "code": code,
        "type": type_,
        "param": _str_or_none(error.get("param")),
        "request_id": _str_or_none(error.get("request_id")) or lowered.get("x-request-id"),
        "generation_id": _str_or_none(error.get("generation_id")),
        "body": body,
        "headers": lowered,
    }
    cls = _class_for(status_code, type_, code)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _inferred_status(error: Mapping[str, Any], type_: str | None, code: str | None) -> int:
    status = error.get("status")
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    if code in _STATUS_FOR_CODE:
        return _STATUS_FOR_CODE[code]
    if type_ in _STATUS_FOR_TYPE:
        return _STATUS_FOR_TYPE[type_]
    return 500  # as the synchronous endpoint answers for a failure it cannot classify


def _fallback_message(status: int, body: Any, text: str | None) -> str:
    snippet = (text or (body if isinstance(body, str) else "") or "").strip()
    if snippet:
        return f"HTTP {status}: {snippet[:200]}"
    return f"HTTP {status}"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
