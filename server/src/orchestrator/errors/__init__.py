"""Errors: the one table of codes (:mod:`.table`), the exceptions that carry them
(:mod:`.exceptions`) and the handlers that render them as the envelope (:mod:`.handlers`)."""

from orchestrator.errors.exceptions import (
    APIError,
    AuthenticationFailed,
    BudgetExceeded,
    Conflict,
    InternalError,
    InvalidRequest,
    ModelNotAvailable,
    NotFound,
    PermissionDenied,
    RateLimited,
    StorageUnavailable,
    error_for,
    quoted,
)
from orchestrator.errors.handlers import StatusDialect, error_response, install_error_handlers
from orchestrator.errors.table import ERRORS, ErrorCode, ErrorSpec, ErrorType, describe_codes, spec_for

__all__ = [
    "ERRORS",
    "APIError",
    "AuthenticationFailed",
    "BudgetExceeded",
    "Conflict",
    "ErrorCode",
    "ErrorSpec",
    "ErrorType",
    "InternalError",
    "InvalidRequest",
    "ModelNotAvailable",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "StatusDialect",
    "StorageUnavailable",
    "describe_codes",
    "error_for",
    "error_response",
    "install_error_handlers",
    "quoted",
    "spec_for",
]
