"""History and single generations: read, stream events, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from orchestrator.api.deps import GenerateScope, ReadScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.inputs import (
    SafeText,
    known_generation_id,
)
from orchestrator.api.listing import ListQuery, PageSize, check_page_size, generation_filter
from orchestrator.api.presenters import base_url, generation_out
from orchestrator.api.schemas import GenerationPage, GenerationResponse
from orchestrator.auth.principal import Principal
from orchestrator.container import Services
from orchestrator.db.models import Generation
from orchestrator.db.repositories.generations import HistoryFilter
from orchestrator.errors import InvalidRequest, RateLimited
from orchestrator.ids import is_id

router = APIRouter(tags=["generations"], responses=ERRORS)


@router.get("/generations", operation_id="listGenerations", response_model=GenerationPage)
async def list_generations(
    request: Request,
    principal: ReadScope,
    services: ServicesDep,
    filters: ListQuery,
    limit: PageSize = 20,
    batch_id: Annotated[SafeText | None, Query(max_length=32)] = None,
    operation: Annotated[
        Literal["generate", "edit", "variation", "upscale", "remove_background", "image_to_image"] | None,
        Query(description="Only jobs of this operation."),
    ] = None,
    source: Annotated[
        SafeText | None,
        Query(max_length=40, description="Only jobs that took an image of this generation as input."),
    ] = None,
) -> GenerationPage:
    """Newest first. Filter on your metadata with `metadata.<key>=<value>` query parameters."""
    check_page_size(limit, services)
    if filters.cursor is not None and not is_id(filters.cursor, "gen"):
        raise InvalidRequest(
            "cursor must be the `next_cursor` of a previous page (a generation id)", param="cursor"
        )
    history = generation_filter(
        HistoryFilter,
        filters,
        request,
        batch_id=batch_id,
        operation=operation,
        source=None if source is None else source.split(":", 1)[0],
    )
    rows, has_more = await services.reading.history(principal, history, filters.cursor, limit)
    base = base_url(request, services)
    return GenerationPage(
        data=[generation_out(g, services, base) for g in rows],
        has_more=has_more,
        next_cursor=rows[-1].id if has_more and rows else None,
    )


@router.get("/generations/{generation_id}", operation_id="getGeneration", response_model=GenerationResponse)
async def get_generation(
    generation_id: str, request: Request, principal: ReadScope, services: ServicesDep
) -> GenerationResponse:
    """One generation: also the status of a job submitted with `Prefer: respond-async`. Shows its
    chain: `sources` and `parents` (what it was made from) and `children` (what was made from it)."""
    job = await services.reading.get(principal, known_generation_id(generation_id))
    children = await services.reading.children(principal, job.id)
    return generation_out(job, services, base_url(request, services), children)


@router.get(
    "/generations/{generation_id}/events",
    operation_id="streamGenerationEvents",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: queued|running|succeeded|failed|canceled`, data = the generation",
        },
    },
)
async def generation_events(
    generation_id: str, request: Request, principal: ReadScope, services: ServicesDep
) -> StreamingResponse:
    """Server-Sent Events until the job is terminal: queued → running (progress) → outcome.

    A key holds at most `ORCHESTRATOR_MAX_STREAMS_PER_KEY` streams open (429 beyond), and its
    streams end within about a second of its revocation."""
    await services.reading.get(principal, known_generation_id(generation_id))  # 404 before the stream starts
    lease = services.streams.acquire(principal.subject)
    if lease is None:
        raise RateLimited(
            f"this key already holds {services.streams.per_principal} open event streams; close one "
            "or poll the generation",
        )
    base = base_url(request, services)

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            async for name, job in _until_revoked(services, principal, generation_id):
                if job is None:
                    yield ": keep-alive\n\n" if name == "keepalive" else f"event: {name}\ndata: {{}}\n\n"
                    continue
                payload: dict[str, Any] = generation_out(job, services, base).model_dump(mode="json")
                event_id = f"{job.id}:{job.status}:{job.progress:.3f}"
                yield f"id: {event_id}\nevent: {name}\ndata: {json.dumps(payload)}\n\n"
        finally:
            lease.release()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(lease.release),  # also when the stream never started
    )


# How often an open stream checks that its key is still valid.
_REVOCATION_CHECK_SECONDS = 1.0


async def _until_revoked(
    services: Services, principal: Principal, generation_id: str
) -> AsyncIterator[tuple[str, Generation | None]]:
    """The job's events, ending with a ``revoked`` event if the key is revoked meanwhile."""
    queue: asyncio.Queue[tuple[str, Generation | None] | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for item in services.waiting.events(generation_id):
                await queue.put(item)
        finally:
            await queue.put(None)

    task = asyncio.create_task(pump())
    loop = asyncio.get_running_loop()
    next_check = loop.time() + _REVOCATION_CHECK_SECONDS
    try:
        while True:
            timed_out = False
            try:
                item = await asyncio.wait_for(queue.get(), max(0.0, next_check - loop.time()))
            except TimeoutError:
                timed_out = True  # nothing new: only the check below is due
            if loop.time() >= next_check:
                if not await services.keys.still_valid(principal):
                    yield "revoked", None
                    return
                next_check = loop.time() + _REVOCATION_CHECK_SECONDS
            if timed_out:
                continue
            if item is None:
                task.result()  # re-raise what ended the pump, if anything did
                return
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@router.post(
    "/generations/{generation_id}/cancel", operation_id="cancelGeneration", response_model=GenerationResponse
)
async def cancel_generation(
    generation_id: str, request: Request, principal: GenerateScope, services: ServicesDep
) -> GenerationResponse:
    """Cancel a job that has not finished (409 if it has). A canceled job is never charged."""
    job = await services.generations.cancel(principal, known_generation_id(generation_id))
    return generation_out(job, services, base_url(request, services))
