"""How a failed or canceled job is reported on the synchronous endpoints."""

from __future__ import annotations

from orchestrator.db.models import Generation
from orchestrator.errors import APIError

# error code -> (HTTP status, envelope type)
_FAILURES: dict[str, tuple[int, str]] = {
    "content_policy_violation": (422, "invalid_request_error"),
    "provider_timeout": (504, "provider_timeout"),
    "provider_error": (502, "provider_error"),
    "provider_rejected_request": (502, "provider_error"),
    "provider_auth_failed": (502, "provider_error"),
    "model_not_available": (503, "model_not_available"),
    "storage_error": (503, "storage_error"),  # our disk, not the provider: retryable
    "canceled": (409, "invalid_request_error"),
}


def failure_error(job: Generation) -> APIError:
    status, kind = _FAILURES.get(job.error_code or "", (500, "internal_error"))
    code = "generation_canceled" if job.status == "canceled" else job.error_code or "internal_error"
    return APIError(
        job.error_message or "the generation failed",
        code=code,
        status_code=status,
        type=kind,
        extra={"generation_id": job.id},
    )
