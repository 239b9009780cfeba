"""Errors: the one table of codes (:mod:`.table`), the exceptions that carry them
(:mod:`.exceptions`) and the handlers that render them as the envelope (:mod:`.handlers`).

The handlers are imported on first use: they need FastAPI, which code that only raises these
errors (the CLI's key commands, workers) need not load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from orchestrator.errors.table import ERRORS, ErrorCode, ErrorSpec, ErrorType, describe_codes, spec_for

if TYPE_CHECKING:
    from orchestrator.errors.handlers import StatusDialect, error_response, install_error_handlers

_FROM_HANDLERS = frozenset({"StatusDialect", "error_response", "install_error_handlers"})

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


def __getattr__(name: str) -> Any:
    if name in _FROM_HANDLERS:
        return getattr(importlib.import_module("orchestrator.errors.handlers"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
