"""How a failed or canceled job is reported on the synchronous endpoints."""

from __future__ import annotations

from orchestrator.core.states import ErrorCode, JobStatus, spec_for
from orchestrator.db.models import Generation
from orchestrator.errors import APIError


def failure_error(job: Generation) -> APIError:
    spec = spec_for(job.error_code)
    code = (
        ErrorCode.GENERATION_CANCELED
        if job.status == JobStatus.CANCELED
        else job.error_code or ErrorCode.INTERNAL_ERROR
    )
    return APIError(
        job.error_message or "the generation failed",
        code=str(code),
        status_code=spec.status,
        type=spec.type,
        extra={"generation_id": job.id},
    )
