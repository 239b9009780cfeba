"""The OpenAI-compatible door's answers: a finished job in OpenAI's `images` shape (a signed
URL or the bytes), a job still running as our 504, and OpenAI's image streaming events."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import Request

from orchestrator.api.openai_schemas import ImageData, ImagesResponse
from orchestrator.api.presenters import base_url, image_url
from orchestrator.container import Services
from orchestrator.core.states import JobStatus
from orchestrator.db.models import Generation
from orchestrator.errors import APIError, ErrorCode
from orchestrator.generation.events import PartialImage
from orchestrator.generation.params import GenerationOutcome, OutputOptions


def openai_status(status: int) -> int:
    """OpenAI answers every invalid request, content refusals included, with 400."""
    return 400 if status == 422 else status


def default_response_format(model: str) -> str:
    """OpenAI answers gpt-image models with `b64_json` always; DALL·E with `url` by default."""
    return "b64_json" if model.startswith("gpt-image") else "url"


async def answer(
    outcome: GenerationOutcome, request: Request, services: Services, response_format: str
) -> JSONResponse:
    """A finished job in OpenAI's `images` shape; a failed one raises its error, a job still
    running our 504 (see :func:`_pending`). A replayed answer says so (`Idempotent-Replayed`)."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    job = outcome.job
    if job is None:  # a replay of an answer stored before any job existed
        assert outcome.stored is not None
        status, stored = outcome.stored
        return JSONResponse(stored, status_code=openai_status(status), headers=headers)
    headers["X-Generation-ID"] = job.id
    if outcome.error is not None:
        raise _with_headers(outcome.error, headers)
    if job.status != JobStatus.SUCCEEDED:
        raise _pending(job, headers)
    base = base_url(request, services)
    data = []
    for image in job.images:
        if response_format == "b64_json":
            encoded = base64.b64encode(await services.storage.get(image.storage_key)).decode()
            data.append(ImageData(b64_json=encoded, revised_prompt=job.revised_prompt))
        else:
            data.append(
                ImageData(url=image_url(services, base, image.storage_key), revised_prompt=job.revised_prompt)
            )
    created = int((job.finished_at or job.created_at).timestamp())
    payload = ImagesResponse(created=created, data=data).model_dump(mode="json", exclude_none=True)
    return JSONResponse(payload, headers=headers)


def _pending(job: Generation, headers: dict[str, str]) -> APIError:
    """The 504 for a job the wait did not see finish, naming it and how to follow it."""
    return APIError(
        f"generation {job.id} is still {job.status} after the server's wait; "
        f"follow it at /api/v1/generations/{job.id} (a retry of this call joins the same "
        "generation when it carries the same Idempotency-Key, or is an OpenAI SDK's own retry)",
        code=ErrorCode.GENERATION_PENDING,
        status_code=504,
        headers=headers,
        extra={"generation_id": job.id},
    )


async def stream(
    outcome: GenerationOutcome,
    services: Services,
    kind: str,
    options: OutputOptions,
) -> Response:
    """OpenAI's image streaming: a `<kind>.partial_image` event for each partial image the
    provider streams (relayed as it arrives, when the job runs in this process), then
    `<kind>.completed` for every image once the job has finished. A failure is an `error` event.
    """
    job = outcome.job
    if job is None:
        assert outcome.stored is not None
        status, stored = outcome.stored
        return JSONResponse(stored, status_code=openai_status(status))
    hub = services.hub
    # Subscribed before the response starts, so no partial image sent meanwhile is missed.
    backlog, partials = hub.subscribe_partials(job.id)

    def shape(final: Generation, size: str) -> dict[str, Any]:
        return {
            "created_at": int((final.finished_at or final.created_at).timestamp()),
            "size": size,
            "quality": final.quality if final.quality in ("low", "medium", "high") else "auto",
            "background": options.background or "auto",
            "output_format": options.output_format or "png",
        }

    def partial_event(partial: PartialImage) -> str:
        size = f"{partial.width}x{partial.height}" if partial.width and partial.height else job.size
        event = {
            "type": f"{kind}.partial_image",
            "b64_json": base64.b64encode(partial.data).decode(),
            **shape(job, size),
            "partial_image_index": partial.index,
        }
        return f"event: {kind}.partial_image\ndata: {json.dumps(event)}\n\n"

    async def events() -> AsyncIterator[str]:
        try:
            for partial in backlog:
                yield partial_event(partial)
            final = job
            if final.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                waiter = asyncio.ensure_future(
                    services.generations.wait(final, services.settings.sync_wait_seconds)
                )
                try:
                    while True:
                        getter = asyncio.ensure_future(partials.get())
                        await asyncio.wait((waiter, getter), return_when=asyncio.FIRST_COMPLETED)
                        if not getter.done():
                            getter.cancel()
                            break
                        yield partial_event(getter.result())
                finally:
                    waiter.cancel()  # a no-op once it has finished; stops it if the caller left
                final = waiter.result()
            while not partials.empty():  # any that arrived with the job's end
                yield partial_event(partials.get_nowait())
        finally:
            hub.unsubscribe_partials(job.id, partials)
        if final.status != JobStatus.SUCCEEDED:
            error = GenerationOutcome(final).error or _pending(final, {})
            body = {
                "type": "error",
                "error": {"message": error.message, "code": str(error.code), "type": "error"},
            }
            yield f"event: error\ndata: {json.dumps(body)}\n\n"
            return
        for image in final.images:
            encoded = base64.b64encode(await services.storage.get(image.storage_key)).decode()
            event = {
                "type": f"{kind}.completed",
                "b64_json": encoded,
                **shape(final, f"{image.width}x{image.height}"),
                "usage": {
                    "input_tokens": 0,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                    "output_tokens": 0,
                    "total_tokens": 0,
                },
            }
            yield f"event: {kind}.completed\ndata: {json.dumps(event)}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Generation-ID": job.id},
    )


def _with_headers(error: APIError, headers: dict[str, str]) -> APIError:
    """``error``, carrying ``headers`` too."""
    error.headers.update(headers)
    return error
