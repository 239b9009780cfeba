"""POST /api/v1/generate and /generate/batch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from orchestrator.api.deps import GenerateScope, ServicesDep
from orchestrator.api.disconnect import hang_up
from orchestrator.api.presenters import base_url, generation_out
from orchestrator.api.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ErrorEnvelope,
    GenerateRequest,
    GenerationResponse,
)
from orchestrator.container import Services
from orchestrator.generation.batch import BatchEntry, BatchOutcome, BatchParams
from orchestrator.generation.params import GenerationOutcome, Preferences, SubmitParams

# Every route may answer with the error envelope: declared once per router (``responses=ERRORS``).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 402, 403, 404, 409, 413, 422, 429, 502, 503, 504)
}

router = APIRouter(tags=["generation"], responses=ERRORS)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes the POST safe to retry: the same key replays the first answer.",
    ),
]
Prefer = Annotated[
    str | None,
    Header(
        description="`respond-async` answers 202 with the job at once; `wait=N` (seconds) caps how "
        "long the server holds the request before answering 202 (RFC 7240)."
    ),
]


def parse_prefer(header: str | None) -> Preferences:
    """The `Prefer` preferences we honour (RFC 7240); unknown ones are ignored, as the RFC says."""
    if not header:
        return Preferences()
    respond_async, wait = False, None
    for token in header.split(","):
        name, _, value = token.strip().partition("=")
        name = name.strip().lower()
        if name == "respond-async":
            respond_async = True
        elif name == "wait" and value.strip().isascii() and value.strip().isdigit():  # not "²"
            wait = float(value.strip())
    return Preferences(respond_async, wait)


# OpenAPI links: what a client (or a stateful test) can do next with the generation it got.
GENERATION_LINKS = {
    name: {"operationId": operation, "parameters": {"generation_id": "$response.body#/id"}}
    for name, operation in (
        ("GetGeneration", "getGeneration"),
        ("StreamGenerationEvents", "streamGenerationEvents"),
        ("CancelGeneration", "cancelGeneration"),
    )
}


def _job_response(outcome: GenerationOutcome, services: Services, request: Request) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.stored is not None:
        status, stored = outcome.stored
        return JSONResponse(stored, status_code=status, headers=headers)
    job = outcome.job
    assert job is not None
    error = outcome.error
    if error is not None:
        return JSONResponse(
            error.body(request.state.request_id), status_code=error.status_code, headers=headers
        )
    status = outcome.status_code
    if status == 202:
        headers["Location"] = f"/api/v1/generations/{job.id}"
    # Serialised once, straight to bytes (no dict round trip, no second JSON encoder).
    body = generation_out(job, services, base_url(request, services)).model_dump_json()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


@router.post(
    "/generate",
    operation_id="generate",
    response_model=GenerationResponse,
    responses={
        200: {"links": GENERATION_LINKS},
        202: {
            "model": GenerationResponse,
            "description": "Queued (async or still running)",
            "links": GENERATION_LINKS,
        },
    },
    summary="Generate images",
)
async def generate(
    body: GenerateRequest,
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
) -> Response:
    """Submit one generation and wait for it (200), or with `Prefer: respond-async` get the job (202).

    A job still running when the server's wait runs out is answered with 202 and its `Location`.
    A failed generation answers with the error envelope (with `generation_id`).
    """
    params = SubmitParams(
        prompt=body.prompt,
        model=body.model,
        style=body.style,
        size=body.size,
        quality=body.quality,
        n=body.n,
        seed=body.seed,
        negative_prompt=body.negative_prompt,
        metadata=body.metadata,
        cache=body.cache,
    )
    outcome = await services.generations.generate(
        principal,
        params,
        idempotency_key=idempotency_key,
        preferences=parse_prefer(prefer),
        abandoned=hang_up(request),
    )
    return _job_response(outcome, services, request)


@router.post(
    "/generate/batch",
    operation_id="generateBatch",
    response_model=BatchResponse,
    summary="Generate one result per prompt",
)
async def generate_batch(
    body: BatchRequest,
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """One generation per prompt, `batch_size` at a time; results in prompt order. One failure does
    not sink the others: each item carries its generation or its error."""
    params = BatchParams(
        prompts=body.prompts,
        batch_size=body.batch_size,
        shared=body.model_dump(exclude={"prompts", "batch_size"}),
    )
    outcome = await services.batches.generate_batch(principal, params, idempotency_key=idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(_batch_body(outcome, services, request), headers=headers)


def _batch_body(outcome: BatchOutcome, services: Services, request: Request) -> dict[str, Any]:
    base = base_url(request, services)
    items = [_batch_item(entry, services, base, request.state.request_id) for entry in outcome.entries]
    costs = [item.generation.cost for item in items if item.status == "succeeded" and item.generation]
    return BatchResponse(
        id=outcome.batch_id,
        data=items,
        succeeded=sum(i.status == "succeeded" for i in items),
        failed=sum(i.status == "failed" for i in items),
        total_cost=None
        if any(c is None for c in costs)
        else round(sum(c for c in costs if c is not None), 6),
    ).model_dump(mode="json")


def _batch_item(entry: BatchEntry, services: Services, base: str, request_id: str) -> BatchItem:
    out = None if entry.job is None else generation_out(entry.job, services, base)
    return BatchItem(
        index=entry.index,
        prompt=entry.prompt,
        status="succeeded" if entry.succeeded else "failed",
        generation=out,
        error=None if entry.error is None else entry.error.body(request_id)["error"],
    )
