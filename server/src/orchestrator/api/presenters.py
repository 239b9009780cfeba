"""Shaping stored rows into API responses (signed URLs, money as numbers)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

from orchestrator.accounting.money import from_micros
from orchestrator.api.inputs import present_metadata
from orchestrator.api.schemas import ErrorInfo, FailedAttempt, GenerationResponse, ImageOut, SourceOut
from orchestrator.container import Services
from orchestrator.core.states import UNSUCCESSFUL, JobStatus
from orchestrator.db.models import Generation

IMAGE_ROUTE = "/api/v1/images/"

Schema = TypeVar("Schema", bound=BaseModel)


def from_attributes(schema: type[Schema], source: object, **differing: Any) -> Schema:
    """A ``schema`` response whose fields take ``source``'s attributes of the same names, but for
    ``differing``: the fields whose value is converted, renamed or derived. A field ``source`` has
    no attribute for keeps its default (``object``, for one)."""
    same = {
        name: getattr(source, name)
        for name in schema.model_fields
        if name not in differing and hasattr(source, name)
    }
    return schema(**same, **differing)


def base_url(request: Request, services: Services) -> str:
    configured = services.settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


def image_url(services: Services, base: str, storage_key: str) -> str:
    return base + services.signer.sign(IMAGE_ROUTE + storage_key)


def _operation_params(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The job's operation parameters under the request's own names (``factor`` was once stored
    as ``scale``)."""
    params = dict(stored or {})
    if "scale" in params:
        params.setdefault("factor", params.pop("scale"))
    return params


def generation_out(
    job: Generation, services: Services, base: str, children: list[str] | None = None
) -> GenerationResponse:
    images = [
        ImageOut(
            url=image_url(services, base, img.storage_key),
            thumbnail_url=image_url(services, base, img.thumbnail_key),
            width=img.width,
            height=img.height,
            content_type=img.content_type,
        )
        for img in (job.images if job.status == JobStatus.SUCCEEDED else [])
    ]
    return from_attributes(
        GenerationResponse,
        job,
        image_url=images[0].url if images else None,
        thumbnail_url=images[0].thumbnail_url if images else None,
        images=images,
        metadata=present_metadata(job.meta),
        cost=from_micros(job.cost_micros),
        operation=job.operation or "generate",
        operation_params=_operation_params(job.operation_params),
        sources=[
            SourceOut(
                role="mask" if s.role == "mask" else "image",
                origin=s.origin if s.origin in ("upload", "url") else "generation",
                generation_id=s.source_generation_id,
                index=s.source_index,
                url=image_url(services, base, s.storage_key),
                width=s.width,
                height=s.height,
                content_type=s.content_type,
            )
            for s in job.sources
        ],
        parents=list(dict.fromkeys(s.source_generation_id for s in job.sources if s.source_generation_id)),
        children=children,
        error=ErrorInfo(code=job.error_code, message=job.error_message or "")
        if job.status in UNSUCCESSFUL and job.error_code
        else None,
        failed_attempts=[FailedAttempt.model_validate(a) for a in job.attempt_trail or ()],
        cached=job.cached_from is not None,
    )
