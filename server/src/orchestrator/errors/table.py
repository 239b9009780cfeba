"""The one error table: every ``error.code`` the server sends, with the exception that carries it,
its HTTP status, its envelope ``type``, whether a client may retry it, and what it means.

Exceptions take their status and type from this table; the OpenAPI document, the conformance test
of the clients' shared cases and the 413 of the body-size guard read it too. A code missing here
cannot be raised (``APIError`` takes an :class:`ErrorCode`, not a string).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class ErrorType(enum.StrEnum):
    """The envelope's ``error.type``: the family a client maps to one exception class."""

    INVALID_REQUEST = "invalid_request_error"
    AUTHENTICATION = "authentication_error"
    PERMISSION = "permission_error"
    NOT_FOUND = "not_found"
    MODEL_NOT_AVAILABLE = "model_not_available"
    BUDGET_EXCEEDED = "budget_exceeded"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    RATE_LIMIT = "rate_limit_error"
    PROVIDER = "provider_error"
    PROVIDER_TIMEOUT = "provider_timeout"
    STORAGE = "storage_error"
    INTERNAL = "internal_error"


class ErrorCode(enum.StrEnum):
    """Every ``error.code`` the server sends (request errors and a job's stored failure)."""

    INVALID_REQUEST = "invalid_request"
    INVALID_FIELD = "invalid_field"
    INVALID_UNKNOWN_FIELD = "invalid_unknown_field"
    UNSUPPORTED_VALUE = "unsupported_value"
    PROMPT_TOO_LONG = "prompt_too_long"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_BODY = "invalid_body"
    HTTP_ERROR = "http_error"
    WEBHOOK_URL_NOT_ALLOWED = "webhook_url_not_allowed"
    WEBHOOK_LIMIT_REACHED = "webhook_limit_reached"
    WEBHOOK_DISABLED = "webhook_disabled"
    INVALID_API_KEY = "invalid_api_key"
    INVALID_TOKEN = "invalid_token"
    INVALID_AUTHORIZATION_HEADER = "invalid_authorization_header"
    MISSING_CREDENTIALS = "missing_credentials"
    INVALID_METRICS_TOKEN = "invalid_metrics_token"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    MODE_NOT_ALLOWED = "mode_not_allowed"
    LIMIT_EXCEEDS_CREATOR = "limit_exceeds_creator"
    INVALID_SIGNATURE = "invalid_signature"
    BUDGET_EXCEEDED = "budget_exceeded"
    NOT_FOUND = "not_found"
    GENERATION_NOT_FOUND = "generation_not_found"
    KEY_NOT_FOUND = "key_not_found"
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    MODEL_NOT_AVAILABLE = "model_not_available"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    GENERATION_FINISHED = "generation_finished"
    GENERATION_CANCELED = "generation_canceled"
    GENERATION_PENDING = "generation_pending"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    # A job's failure: stored on the job as error_code, answered as below on the synchronous
    # endpoints (a canceled job is answered as generation_canceled).
    CONTENT_POLICY_VIOLATION = "content_policy_violation"
    PROVIDER_ERROR = "provider_error"
    PROVIDER_REJECTED_REQUEST = "provider_rejected_request"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    PROVIDER_TIMEOUT = "provider_timeout"
    STORAGE_ERROR = "storage_error"
    WORKER_LOST = "worker_lost"
    CANCELED = "canceled"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One row of the table."""

    type: ErrorType
    status: int
    """The HTTP status it is answered with (for a job's failure: on the synchronous endpoints)."""
    retryable: bool
    """Whether the same request may succeed when sent again unchanged (after a wait)."""
    meaning: str
    also: frozenset[int] = frozenset()
    """Other statuses the same code is sent with, where the situation differs (named in meaning)."""

    @property
    def statuses(self) -> frozenset[int]:
        return self.also | {self.status}


def _row(
    type_: ErrorType, status: int, meaning: str, *, retryable: bool = False, also: tuple[int, ...] = ()
) -> ErrorSpec:
    return ErrorSpec(type_, status, retryable, meaning, frozenset(also))


_T = ErrorType

ERRORS: Mapping[ErrorCode, ErrorSpec] = {
    ErrorCode.INVALID_REQUEST: _row(
        _T.INVALID_REQUEST,
        422,
        "The request breaks a rule named in the message (400 under /v1).",
        also=(400,),
    ),
    ErrorCode.INVALID_FIELD: _row(
        _T.INVALID_REQUEST, 422, "A field has a wrong type or value; `param` names it."
    ),
    ErrorCode.INVALID_UNKNOWN_FIELD: _row(
        _T.INVALID_REQUEST, 422, "The body has a field the API does not know."
    ),
    ErrorCode.UNSUPPORTED_VALUE: _row(
        _T.INVALID_REQUEST, 422, "The model does not support this value (size, quality, style, n, seed)."
    ),
    ErrorCode.PROMPT_TOO_LONG: _row(_T.INVALID_REQUEST, 422, "The prompt is longer than the model accepts."),
    ErrorCode.PAYLOAD_TOO_LARGE: _row(_T.INVALID_REQUEST, 413, "The request body is over the size limit."),
    ErrorCode.METHOD_NOT_ALLOWED: _row(
        _T.INVALID_REQUEST, 405, "The path exists; `Allow` lists its methods."
    ),
    ErrorCode.INVALID_BODY: _row(_T.INVALID_REQUEST, 400, "The body is not one parsable JSON document."),
    ErrorCode.HTTP_ERROR: _row(
        _T.INVALID_REQUEST, 400, "Another HTTP-level refusal, with the status it was sent with."
    ),
    ErrorCode.WEBHOOK_URL_NOT_ALLOWED: _row(
        _T.INVALID_REQUEST,
        422,
        "The webhook URL is malformed or not a public http(s) target; the message names the rule.",
    ),
    ErrorCode.WEBHOOK_LIMIT_REACHED: _row(
        _T.INVALID_REQUEST, 409, "The project has as many webhook endpoints as allowed; delete one first."
    ),
    ErrorCode.WEBHOOK_DISABLED: _row(
        _T.INVALID_REQUEST, 409, "The webhook endpoint is paused or disabled; resume it first."
    ),
    ErrorCode.INVALID_API_KEY: _row(_T.AUTHENTICATION, 401, "The API key is unknown, revoked or expired."),
    ErrorCode.INVALID_TOKEN: _row(_T.AUTHENTICATION, 401, "The bearer JWT failed verification."),
    ErrorCode.INVALID_AUTHORIZATION_HEADER: _row(
        _T.AUTHENTICATION, 401, "The Authorization header is not 'Bearer <key or token>'."
    ),
    ErrorCode.MISSING_CREDENTIALS: _row(_T.AUTHENTICATION, 401, "No API key or token was sent."),
    ErrorCode.INVALID_METRICS_TOKEN: _row(
        _T.AUTHENTICATION, 401, "/metrics needs the configured metrics token."
    ),
    ErrorCode.INSUFFICIENT_SCOPE: _row(_T.PERMISSION, 403, "The key lacks the scope this operation needs."),
    ErrorCode.MODE_NOT_ALLOWED: _row(_T.PERMISSION, 403, "A test key tried to act on live-mode keys."),
    ErrorCode.LIMIT_EXCEEDS_CREATOR: _row(_T.PERMISSION, 403, "A new key's limits exceed its creator's."),
    ErrorCode.INVALID_SIGNATURE: _row(_T.PERMISSION, 403, "An image link's signature is wrong or expired."),
    ErrorCode.BUDGET_EXCEEDED: _row(
        _T.BUDGET_EXCEEDED, 402, "The key's or project's monthly budget is spent."
    ),
    ErrorCode.NOT_FOUND: _row(_T.NOT_FOUND, 404, "No such route or object."),
    ErrorCode.GENERATION_NOT_FOUND: _row(_T.NOT_FOUND, 404, "No generation with this id in your project."),
    ErrorCode.KEY_NOT_FOUND: _row(_T.NOT_FOUND, 404, "No API key with this id in your project."),
    ErrorCode.WEBHOOK_NOT_FOUND: _row(_T.NOT_FOUND, 404, "No webhook endpoint with this id in your project."),
    ErrorCode.MODEL_NOT_AVAILABLE: _row(
        _T.MODEL_NOT_AVAILABLE,
        404,
        "404: no such model; 503: no configured provider serves it now (retry later).",
        also=(503,),
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: _row(
        _T.IDEMPOTENCY_CONFLICT, 409, "The Idempotency-Key was used with a different request."
    ),
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: _row(
        _T.IDEMPOTENCY_CONFLICT, 409, "A request with this Idempotency-Key is still running.", retryable=True
    ),
    ErrorCode.GENERATION_FINISHED: _row(
        _T.INVALID_REQUEST, 409, "The job already ended; it cannot be canceled."
    ),
    ErrorCode.GENERATION_CANCELED: _row(_T.INVALID_REQUEST, 409, "The job was canceled."),
    ErrorCode.GENERATION_PENDING: _row(
        _T.INVALID_REQUEST,
        202,
        "The job is still running when the wait ran out (a batch item: 202; /v1: 504); follow it by id.",
        retryable=True,
        also=(504,),
    ),
    ErrorCode.RATE_LIMIT_EXCEEDED: _row(
        _T.RATE_LIMIT, 429, "Too many requests; `Retry-After` says when to retry.", retryable=True
    ),
    ErrorCode.CONTENT_POLICY_VIOLATION: _row(
        _T.INVALID_REQUEST, 422, "The provider refused the prompt or image."
    ),
    ErrorCode.PROVIDER_ERROR: _row(_T.PROVIDER, 502, "Every provider route failed.", retryable=True),
    ErrorCode.PROVIDER_REJECTED_REQUEST: _row(
        _T.PROVIDER, 502, "The provider refused the request as invalid."
    ),
    ErrorCode.PROVIDER_AUTH_FAILED: _row(_T.PROVIDER, 502, "The provider refused this server's credential."),
    ErrorCode.PROVIDER_TIMEOUT: _row(
        _T.PROVIDER_TIMEOUT, 504, "The provider did not answer in time.", retryable=True
    ),
    ErrorCode.STORAGE_ERROR: _row(
        _T.STORAGE, 503, "This server's image storage failed (not the provider).", retryable=True
    ),
    ErrorCode.WORKER_LOST: _row(
        _T.INTERNAL, 500, "The process running the job died; it was not charged.", retryable=True
    ),
    ErrorCode.CANCELED: _row(
        _T.INVALID_REQUEST, 409, "Stored on a canceled job (answered as generation_canceled)."
    ),
    ErrorCode.INTERNAL_ERROR: _row(_T.INTERNAL, 500, "A server bug; quote the request id.", retryable=True),
}


def spec_for(code: str | None) -> ErrorSpec:
    """The table entry for ``code``; unknown codes are answered as internal errors."""
    try:
        return ERRORS[ErrorCode(code or "")]
    except ValueError:
        return ERRORS[ErrorCode.INTERNAL_ERROR]


def describe_codes() -> str:
    """Every code with its status and meaning, as Markdown for the OpenAPI document."""
    lines = ["Every code the server sends, with its HTTP status and meaning:", ""]
    for code, spec in ERRORS.items():
        statuses = "/".join(str(s) for s in sorted(spec.statuses))
        retry = " Retryable." if spec.retryable else ""
        lines.append(f"- `{code.value}` ({statuses}, `{spec.type.value}`): {spec.meaning}{retry}")
    return "\n".join(lines)
