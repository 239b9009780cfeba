"""How a failed or canceled job is reported on the synchronous endpoints."""

from __future__ import annotations

from orchestrator.core.states import JobStatus
from orchestrator.db.models import Generation
from orchestrator.errors import APIError, ErrorCode, error_for


def failure_error(job: Generation) -> APIError:
    """The error a synchronous endpoint answers for a job that ended unsuccessfully: the stored
    code's row of the error table (a canceled job: ``generation_canceled``)."""
    code = ErrorCode.GENERATION_CANCELED if job.status == JobStatus.CANCELED else job.error_code
    return error_for(code, job.error_message or "the generation failed", extra={"generation_id": job.id})
