"""Job states and the error codes a job or a request can end with: one table each.

Everything that asks "is this job finished?" or "how is this failure answered?" reads these
tables; nothing else spells the sets out again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL: frozenset[str] = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
"""States a job never leaves."""
ACTIVE: frozenset[str] = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""States that count against a principal's concurrency cap (and its budget, with succeeded)."""
UNSUCCESSFUL: frozenset[str] = frozenset({JobStatus.FAILED, JobStatus.CANCELED})


class ErrorCode(enum.StrEnum):
    """Every ``error.code`` the API sends that a client may branch on."""

    INVALID_REQUEST = "invalid_request"
    INVALID_FIELD = "invalid_field"
    INVALID_UNKNOWN_FIELD = "invalid_unknown_field"
    PROMPT_TOO_LONG = "prompt_too_long"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_BODY = "invalid_body"
    INVALID_API_KEY = "invalid_api_key"
    MISSING_CREDENTIALS = "missing_credentials"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    MODE_NOT_ALLOWED = "mode_not_allowed"
    LIMIT_EXCEEDS_CREATOR = "limit_exceeds_creator"
    BUDGET_EXCEEDED = "budget_exceeded"
    NOT_FOUND = "not_found"
    GENERATION_NOT_FOUND = "generation_not_found"
    MODEL_NOT_AVAILABLE = "model_not_available"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    GENERATION_FINISHED = "generation_finished"
    GENERATION_CANCELED = "generation_canceled"
    GENERATION_PENDING = "generation_pending"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    # A job's failure (stored on the job as error_code; `canceled` is answered as generation_canceled)
    CONTENT_POLICY_VIOLATION = "content_policy_violation"
    PROVIDER_ERROR = "provider_error"
    PROVIDER_REJECTED_REQUEST = "provider_rejected_request"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    PROVIDER_TIMEOUT = "provider_timeout"
    STORAGE_ERROR = "storage_error"  # our disk or object store, not the provider: retryable
    WORKER_LOST = "worker_lost"
    CANCELED = "canceled"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    type: str
    """The envelope's ``error.type``."""
    status: int
    """The HTTP status it is answered with (for a job's failure: on the synchronous endpoints)."""
    also: frozenset[int] = frozenset()
    """Other statuses the same code is sent with, where the situation differs."""

    @property
    def statuses(self) -> frozenset[int]:
        return self.also | {self.status}


_INVALID = "invalid_request_error"

ERRORS: Mapping[ErrorCode, ErrorSpec] = {
    ErrorCode.INVALID_REQUEST: ErrorSpec(_INVALID, 422, frozenset({400})),
    ErrorCode.INVALID_FIELD: ErrorSpec(_INVALID, 422),
    ErrorCode.INVALID_UNKNOWN_FIELD: ErrorSpec(_INVALID, 422),
    ErrorCode.PROMPT_TOO_LONG: ErrorSpec(_INVALID, 422),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorSpec(_INVALID, 413),
    ErrorCode.METHOD_NOT_ALLOWED: ErrorSpec(_INVALID, 405),
    ErrorCode.INVALID_BODY: ErrorSpec(_INVALID, 400),
    ErrorCode.INVALID_API_KEY: ErrorSpec("authentication_error", 401),
    ErrorCode.MISSING_CREDENTIALS: ErrorSpec("authentication_error", 401),
    ErrorCode.INSUFFICIENT_SCOPE: ErrorSpec("permission_error", 403),
    # Key creation: a test key creating a live key, or a key with higher limits than its creator's.
    ErrorCode.MODE_NOT_ALLOWED: ErrorSpec("permission_error", 403),
    ErrorCode.LIMIT_EXCEEDS_CREATOR: ErrorSpec("permission_error", 403),
    ErrorCode.BUDGET_EXCEEDED: ErrorSpec("budget_exceeded", 402),
    ErrorCode.NOT_FOUND: ErrorSpec("not_found", 404),
    ErrorCode.GENERATION_NOT_FOUND: ErrorSpec("not_found", 404),
    # 404: no such model; 503: a model this deployment has no configured provider for.
    ErrorCode.MODEL_NOT_AVAILABLE: ErrorSpec("model_not_available", 503, frozenset({404})),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: ErrorSpec("idempotency_conflict", 409),
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: ErrorSpec("idempotency_conflict", 409),
    ErrorCode.GENERATION_FINISHED: ErrorSpec(_INVALID, 409),
    ErrorCode.GENERATION_CANCELED: ErrorSpec(_INVALID, 409),
    ErrorCode.GENERATION_PENDING: ErrorSpec(_INVALID, 202),
    ErrorCode.RATE_LIMIT_EXCEEDED: ErrorSpec("rate_limit_error", 429),
    ErrorCode.CONTENT_POLICY_VIOLATION: ErrorSpec(_INVALID, 422),
    ErrorCode.PROVIDER_ERROR: ErrorSpec("provider_error", 502),
    ErrorCode.PROVIDER_REJECTED_REQUEST: ErrorSpec("provider_error", 502),
    ErrorCode.PROVIDER_AUTH_FAILED: ErrorSpec("provider_error", 502),
    ErrorCode.PROVIDER_TIMEOUT: ErrorSpec("provider_timeout", 504),
    ErrorCode.STORAGE_ERROR: ErrorSpec("storage_error", 503),
    ErrorCode.WORKER_LOST: ErrorSpec("internal_error", 500),
    ErrorCode.CANCELED: ErrorSpec(_INVALID, 409),
    ErrorCode.INTERNAL_ERROR: ErrorSpec("internal_error", 500),
}


def spec_for(code: str | None) -> ErrorSpec:
    """The table entry for ``code``; unknown codes are answered as internal errors."""
    try:
        return ERRORS[ErrorCode(code or "")]
    except ValueError:
        return ERRORS[ErrorCode.INTERNAL_ERROR]
