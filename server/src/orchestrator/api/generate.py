"""POST /api/v1/generate and /generate/batch."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from orchestrator.api.deps import GenerateScope, ServicesDep
from orchestrator.api.presenters import base_url, generation_out
from orchestrator.api.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ErrorEnvelope,
    GenerateRequest,
    GenerationResponse,
)
from orchestrator.auth.principal import Principal
from orchestrator.container import Services
from orchestrator.db.models import Generation
from orchestrator.errors import APIError, InvalidRequest
from orchestrator.generation.idempotency import IdempotencyService, Replay, request_fingerprint
from orchestrator.generation.outcome import failure_error
from orchestrator.generation.service import SubmitParams
from orchestrator.ids import new_id

router = APIRouter(tags=["generation"])

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


@dataclass(frozen=True, slots=True)
class Preferences:
    respond_async: bool = False
    wait: float | None = None

    def max_wait(self, server_cap: float) -> float:
        return server_cap if self.wait is None else min(self.wait, server_cap)


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


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 402, 403, 404, 409, 413, 422, 429, 502, 503, 504)
}


# OpenAPI links: what a client (or a stateful test) can do next with the generation it got.
GENERATION_LINKS = {
    name: {"operationId": operation, "parameters": {"generation_id": "$response.body#/id"}}
    for name, operation in (
        ("GetGeneration", "getGeneration"),
        ("StreamGenerationEvents", "streamGenerationEvents"),
        ("CancelGeneration", "cancelGeneration"),
    )
}


def _check_prompt(prompt: str, services: Services, param: str = "prompt") -> None:
    limit = services.settings.max_prompt_length
    if len(prompt) > limit:
        raise InvalidRequest(
            f"{param} is {len(prompt)} characters; the limit is {limit}", param=param, code="prompt_too_long"
        )
    if not prompt.strip():
        raise InvalidRequest(f"{param} must not be blank", param=param)


def _check_metadata(metadata: dict[str, Any], services: Services) -> None:
    if len(metadata) > services.settings.max_metadata_keys:
        raise InvalidRequest(
            f"metadata has {len(metadata)} keys; the limit is {services.settings.max_metadata_keys}",
            param="metadata",
        )


def _idempotency(services: Services) -> IdempotencyService:
    return IdempotencyService(services.db, lock_seconds=services.settings.sync_wait_seconds + 30)


def _job_response(
    job: Generation, services: Services, request: Request, *, replayed: bool, accepted: bool
) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if job.status in ("failed", "canceled"):
        error = failure_error(job)
        return JSONResponse(
            error.body(request.state.request_id), status_code=error.status_code, headers=headers
        )
    base = base_url(request, services)
    body = generation_out(job, services, base).model_dump(mode="json")
    if accepted or job.status != "succeeded":
        headers["Location"] = f"/api/v1/generations/{job.id}"
        return JSONResponse(body, status_code=202, headers=headers)
    return JSONResponse(body, status_code=200, headers=headers)


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
        **ERRORS,
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
) -> JSONResponse:
    """Submit one generation and wait for it (200), or with `Prefer: respond-async` get the job (202).

    A job still running when the server's wait runs out is answered with 202 and its `Location`.
    A failed generation answers with the error envelope (with `generation_id`).
    """
    _check_prompt(body.prompt, services)
    _check_metadata(body.metadata, services)
    preference = parse_prefer(prefer)
    respond_async = preference.respond_async
    max_wait = preference.max_wait(services.settings.sync_wait_seconds)
    idem = _idempotency(services)
    if idempotency_key is not None:
        fingerprint = request_fingerprint(
            "generate", body.model_dump(mode="json"), "async" if respond_async else "sync"
        )
        replay = await idem.begin(principal.project, idempotency_key, "generate", fingerprint)
        if replay is not None:
            return await _replay(replay, principal, services, request, respond_async, max_wait)
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
    )
    try:
        job = await services.generations.submit(principal, params, idempotency_key=idempotency_key)
    except APIError:
        if idempotency_key is not None:
            await idem.release(principal.project, idempotency_key)  # nothing durable happened
        raise
    if not respond_async:
        job = await services.generations.wait(job, max_wait)
    response = _job_response(job, services, request, replayed=False, accepted=respond_async)
    if idempotency_key is not None and (respond_async or job.status in ("succeeded", "failed", "canceled")):
        await idem.complete(principal.project, idempotency_key, response.status_code, {}, job.id)
    return response


async def _replay(
    replay: Replay,
    principal: Principal,
    services: Services,
    request: Request,
    respond_async: bool,
    max_wait: float,
) -> JSONResponse:
    if replay.generation_id is None:
        assert replay.status_code is not None
        return JSONResponse(
            replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"}
        )
    job = await services.generations.get(principal, replay.generation_id)
    if not respond_async and job.status in ("queued", "running"):
        job = await services.generations.wait(job, max_wait)
    # Answers are rebuilt from the job, so replays carry fresh signed URLs and the current state.
    return _job_response(job, services, request, replayed=True, accepted=respond_async)


@router.post(
    "/generate/batch",
    operation_id="generateBatch",
    response_model=BatchResponse,
    responses=ERRORS,
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
    settings = services.settings
    if len(body.prompts) > settings.max_batch_prompts:
        raise InvalidRequest(
            f"prompts has {len(body.prompts)} items; the limit is {settings.max_batch_prompts}",
            param="prompts",
        )
    if body.batch_size > settings.max_batch_concurrency:
        raise InvalidRequest(
            f"batch_size must be at most {settings.max_batch_concurrency}", param="batch_size"
        )
    for index, prompt in enumerate(body.prompts):
        _check_prompt(prompt, services, param=f"prompts.{index}")
    _check_metadata(body.metadata, services)
    shared = body.model_dump(exclude={"prompts", "batch_size"})
    # Shared parameters are checked once, up front: a bad model or size fails the whole request.
    services.generations.quote(principal, SubmitParams(prompt=body.prompts[0], **shared))

    idem = _idempotency(services)
    if idempotency_key is not None:
        fingerprint = request_fingerprint("batch", body.model_dump(mode="json"))
        replay = await idem.begin(principal.project, idempotency_key, "batch", fingerprint)
        if replay is not None and replay.status_code is not None:
            return JSONResponse(
                replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"}
            )
        # A batch whose first request died resumes: prompts that already have a job reuse it.
        digest = hashlib.sha256(f"{principal.project}\n{idempotency_key}".encode()).hexdigest()
        batch_id = "bat_" + digest[:26].upper()
    else:
        batch_id = new_id("bat")
    existing = await services.generations.batch_members(principal, batch_id)
    base = base_url(request, services)
    gate = asyncio.Semaphore(body.batch_size)

    async def run_one(index: int, prompt: str) -> BatchItem:
        async with gate:
            try:
                job = existing.get(index) or await services.generations.submit(
                    principal, SubmitParams(prompt=prompt, batch_id=batch_id, batch_index=index, **shared)
                )
                job = await services.generations.wait(job, settings.sync_wait_seconds)
            except APIError as exc:
                return BatchItem(
                    index=index,
                    prompt=prompt,
                    status="failed",
                    generation=None,
                    error=exc.body(request.state.request_id)["error"],
                )
        out = generation_out(job, services, base)
        if job.status == "succeeded":
            return BatchItem(index=index, prompt=prompt, status="succeeded", generation=out, error=None)
        error = (
            failure_error(job)
            if job.status in ("failed", "canceled")
            else APIError(
                "still running when the batch's wait ran out; poll the generation",
                code="generation_pending",
                status_code=202,
                extra={"generation_id": job.id},
            )
        )
        return BatchItem(
            index=index,
            prompt=prompt,
            status="failed",
            generation=out,
            error=error.body(request.state.request_id)["error"],
        )

    items = await asyncio.gather(*(run_one(i, p) for i, p in enumerate(body.prompts)))
    costs = [item.generation.cost for item in items if item.status == "succeeded" and item.generation]
    response = BatchResponse(
        id=batch_id,
        data=list(items),
        succeeded=sum(i.status == "succeeded" for i in items),
        failed=sum(i.status == "failed" for i in items),
        total_cost=None
        if any(c is None for c in costs)
        else round(sum(c for c in costs if c is not None), 6),
    )
    payload = response.model_dump(mode="json")
    if idempotency_key is not None:
        await idem.complete(principal.project, idempotency_key, 200, payload)
    return JSONResponse(payload)
