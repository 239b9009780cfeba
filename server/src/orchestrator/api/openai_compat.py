"""OpenAI-compatible images API under ``/v1``: OpenAI's SDKs and tools work unchanged.

``POST /v1/images/generations`` is the same use case as ``POST /api/v1/generate`` (one service
method): the same keys, scopes, limits, budgets, idempotency, history, usage and storage. Only
the shapes differ. The ``url`` answered is our signed, stored image URL, never the provider's.
Errors keep the one envelope, whose ``message``, ``type``, ``param`` and ``code`` are OpenAI's
error object; invalid requests answer 400 as OpenAI does (see :func:`openai_status`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, StrictInt
from starlette.datastructures import UploadFile

from orchestrator.api.deps import GenerateScope, ReadScope, ServicesDep
from orchestrator.api.disconnect import hang_up
from orchestrator.api.inputs import SafeText, text_problem
from orchestrator.api.operations import read_upload
from orchestrator.api.presenters import base_url, image_url
from orchestrator.api.schemas import CacheChoice, ErrorEnvelope, Prompt, StrictBody
from orchestrator.catalog.catalog import ModelSpec
from orchestrator.container import Services
from orchestrator.core.states import JobStatus
from orchestrator.db.models import Generation
from orchestrator.errors import APIError, ErrorCode, InvalidRequest, ModelNotAvailable
from orchestrator.generation.events import PartialImage
from orchestrator.generation.idempotency import ClientAttempt
from orchestrator.generation.params import (
    GenerationOutcome,
    InputRef,
    OutputOptions,
    Preferences,
    SubmitParams,
)

PREFIX = "/v1"
router = APIRouter(prefix=PREFIX, tags=["openai-compatible"])
UPLOAD_PATHS = ("/images/edits", "/images/variations")
"""The multipart endpoints: their body cap is the upload cap, not the JSON one."""

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 402, 403, 404, 409, 413, 429, 502, 503, 504)
}


def openai_status(status: int) -> int:
    """OpenAI answers every invalid request, content refusals included, with 400."""
    return 400 if status == 422 else status


class ImageGenerationRequest(StrictBody):
    """OpenAI's `images.generate` body. Options a gateway cannot honour are refused, not ignored."""

    prompt: Prompt
    model: SafeText = Field(
        default="dall-e-2", min_length=1, max_length=64, description="Any catalog model (OpenAI's default)."
    )
    n: StrictInt = Field(default=1, ge=1, description="Images to generate.")
    size: SafeText | None = Field(default=None, max_length=16, description="`WIDTHxHEIGHT` or `auto`.")
    quality: SafeText | None = Field(
        default=None, max_length=16, description="One of the model's qualities, or `auto`."
    )
    style: SafeText | None = Field(default=None, max_length=64, description="One of the model's styles.")
    response_format: Literal["url", "b64_json"] | None = Field(
        default=None, description="`url` (a signed link to the stored image) or `b64_json`."
    )
    user: SafeText | None = Field(
        default=None, max_length=256, description="Your end user; kept in metadata."
    )
    safety_identifier: SafeText | None = Field(default=None, max_length=256, description="Kept in metadata.")
    background: Literal["transparent", "opaque", "auto"] | None = Field(
        default=None, description="gpt-image models; `auto` is the default everywhere."
    )
    moderation: Literal["low", "auto"] | None = Field(
        default=None, description="gpt-image models; `auto` is the default everywhere."
    )
    output_format: Literal["png", "jpeg", "webp"] | None = Field(
        default=None, description="gpt-image models (png elsewhere)."
    )
    output_compression: StrictInt | None = Field(
        default=None, ge=0, le=100, description="jpeg/webp output on gpt-image models."
    )
    stream: bool | None = Field(
        default=None, description="Answer with Server-Sent Events in OpenAI's image event shapes."
    )
    partial_images: StrictInt | None = Field(
        default=None, ge=0, le=3, description="Partial images to stream, where the provider sends them."
    )
    cache: CacheChoice = Field(
        default=None,
        description='Extension: the result cache. This door sends no seed, so only `"always"` (or '
        "`false`) changes anything: identical requests then share one result at $0.",
    )


class ImageData(BaseModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(BaseModel):
    created: int = Field(description="Unix time the images were made.")
    data: list[ImageData]


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _options(
    background: str | None, output_format: str | None, compression: int | None, moderation: str | None
) -> OutputOptions:
    # `auto` is every model's default, so it is accepted everywhere; other values only where the
    # model's routes honour them (else 400 naming the field). png is the default format.
    return OutputOptions(
        background=None if background in (None, "auto") else background,
        output_format=None if output_format in (None, "png") and compression is None else output_format,
        output_compression=compression,
        moderation=None if moderation in (None, "auto") else moderation,
    )


def default_response_format(model: str) -> str:
    """OpenAI answers gpt-image models with `b64_json` always; DALL·E with `url` by default."""
    return "b64_json" if model.startswith("gpt-image") else "url"


def _params(body: ImageGenerationRequest) -> SubmitParams:
    metadata = {
        name: value
        for name, value in (("user", body.user), ("safety_identifier", body.safety_identifier))
        if value is not None
    }
    return SubmitParams(
        prompt=body.prompt,
        model=body.model,
        style=body.style,
        size=None if body.size in (None, "auto") else body.size,
        quality=None if body.quality in (None, "auto") else body.quality,
        n=body.n,
        seed=None,
        negative_prompt=None,
        metadata=metadata,
        options=_options(body.background, body.output_format, body.output_compression, body.moderation),
        partial_images=(body.partial_images or 0) if body.stream else 0,
        cache=body.cache,
    )


@router.post(
    "/images/generations",
    operation_id="openaiCreateImage",
    response_model=ImagesResponse,
    responses=ERRORS,
    summary="Create images (OpenAI-compatible)",
)
async def create_image(
    body: ImageGenerationRequest,
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """OpenAI's `POST /v1/images/generations`, answered when the generation has finished (or,
    with `stream: true`, as Server-Sent Events: the provider's partial images, where it streams
    them, as `image_generation.partial_image`, then `image_generation.completed`).

    The OpenAI SDKs retry a 5xx or a timed-out call without an `Idempotency-Key`; their retries
    (`x-stainless-retry-count` ≥ 1) join the first attempt's generation instead of starting another,
    and the wait ends before the SDK's own read timeout (`x-stainless-read-timeout`)."""
    outcome = await services.generations.generate(
        principal,
        _params(body),
        idempotency_key=idempotency_key,
        preferences=Preferences(respond_async=True) if body.stream else sdk_preferences(request),
        endpoint="openai-stream" if body.stream else "openai",
        attempt=sdk_attempt(request),
        abandoned=hang_up(request),
    )
    response_format = body.response_format or default_response_format(body.model)
    if body.stream:
        return await _stream(outcome, services, "image_generation", body.background, body.output_format)
    return await _answer(outcome, request, services, response_format)


async def _answer(
    outcome: GenerationOutcome, request: Request, services: Services, response_format: str
) -> JSONResponse:
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
    return APIError(
        f"generation {job.id} is still {job.status} after the server's wait; "
        f"follow it at /api/v1/generations/{job.id} (a retry of this call joins the same "
        "generation when it carries the same Idempotency-Key, or is an OpenAI SDK's own retry)",
        code=ErrorCode.GENERATION_PENDING,
        status_code=504,
        headers=headers,
        extra={"generation_id": job.id},
    )


async def _stream(
    outcome: GenerationOutcome,
    services: Services,
    kind: str,
    background: str | None,
    output_format: str | None,
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
            "background": background or "auto",
            "output_format": output_format or "png",
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


_EDIT_FIELDS = frozenset(
    {
        "prompt",
        "model",
        "n",
        "size",
        "quality",
        "response_format",
        "user",
        "safety_identifier",
        "background",
        "output_format",
        "output_compression",
        "moderation",
        "stream",
        "partial_images",
        "input_fidelity",
    }
)
_VARIATION_FIELDS = frozenset({"model", "n", "size", "response_format", "user"})


def _int_field(form: dict[str, str], name: str, low: int, high: int | None = None) -> int | None:
    value = form.get(name)
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < low or (high is not None and int(value) > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise InvalidRequest(f"{name} must be an integer {bound}", param=name, code=ErrorCode.INVALID_FIELD)
    return int(value)


def _choice(form: dict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = form.get(name)
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"{name} must be one of {', '.join(allowed)}", param=name, code=ErrorCode.INVALID_FIELD
        )
    return value


async def _read_form(
    request: Request, services: Services, allowed: frozenset[str]
) -> tuple[dict[str, str], list[InputRef], InputRef | None]:
    """OpenAI's multipart fields: `image` (or several `image[]`), `mask`, and the text fields."""
    try:
        form = await request.form(max_files=32, max_fields=64)
    except Exception as exc:  # malformed multipart: the client's error, never a 500
        raise InvalidRequest("the multipart body could not be parsed", param="image") from exc
    limit = services.settings.max_input_image_bytes
    fields: dict[str, str] = {}
    images: list[InputRef] = []
    mask = None
    for name, value in form.multi_items():
        if name in ("image", "image[]", "mask"):
            if not isinstance(value, UploadFile):
                raise InvalidRequest(f"{name} must be a file", param=name)
            field = "mask" if name == "mask" else ("image" if name == "image" else f"image[{len(images)}]")
            ref = InputRef(field, data=await read_upload(value, field, limit))
            if name == "mask":
                mask = ref
            else:
                images.append(ref)
        elif isinstance(value, str):
            if name not in allowed:
                raise InvalidRequest(
                    f"unknown field {name!r}", param=name, code=ErrorCode.INVALID_UNKNOWN_FIELD
                )
            problem = text_problem(value)
            if problem is not None:
                raise InvalidRequest(f"{name}: {problem}", param=name, code=ErrorCode.INVALID_FIELD)
            fields[name] = value
    if not images:
        raise InvalidRequest("image is required: one file, or several as image[]", param="image")
    return fields, images, mask


@router.post(
    "/images/edits",
    operation_id="openaiEditImage",
    response_model=ImagesResponse,
    responses=ERRORS,
    summary="Edit images (OpenAI-compatible)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image", "prompt"],
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "image[]": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "mask": {"type": "string", "format": "binary"},
                            **{name: {"type": "string"} for name in sorted(_EDIT_FIELDS)},
                        },
                    }
                }
            },
        }
    },
)
async def edit_image(
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """OpenAI's `POST /v1/images/edits` (multipart): the same use case as `POST /api/v1/images/edits`."""
    form, images, mask = await _read_form(request, services, _EDIT_FIELDS)
    prompt = form.get("prompt", "")
    if not prompt.strip():
        raise InvalidRequest("prompt is required", param="prompt")
    model = form.get("model") or "dall-e-2"
    stream = _choice(form, "stream", ("true", "false")) == "true"
    partial_images = _int_field(form, "partial_images", 0, 3) or 0
    response_format = _choice(form, "response_format", ("url", "b64_json")) or default_response_format(model)
    options = _options(
        _choice(form, "background", ("transparent", "opaque", "auto")),
        _choice(form, "output_format", ("png", "jpeg", "webp")),
        _int_field(form, "output_compression", 0, 100),
        _choice(form, "moderation", ("low", "auto")),
    )
    quality = form.get("quality")
    params = SubmitParams(
        prompt=prompt,
        model=model,
        style=None,
        size=None if form.get("size") in (None, "auto") else form.get("size"),
        # OpenAI's dall-e-2 edits send `standard`: the default of a model with one quality.
        quality=None if quality in (None, "auto", "standard") else quality,
        n=_int_field(form, "n", 1) or 1,
        seed=None,
        negative_prompt=None,
        metadata=_user_metadata(form),
        operation="edit",
        images=tuple(images),
        mask=mask,
        options=options,
        partial_images=partial_images if stream else 0,
    )
    outcome = await services.generations.operate(
        principal,
        params,
        idempotency_key=idempotency_key,
        preferences=Preferences(respond_async=True) if stream else sdk_preferences(request),
        endpoint="openai-edit-stream" if stream else "openai-edit",
        attempt=sdk_attempt(request),
        abandoned=hang_up(request),
    )
    if stream:
        return await _stream(outcome, services, "image_edit", options.background, options.output_format)
    return await _answer(outcome, request, services, response_format)


@router.post(
    "/images/variations",
    operation_id="openaiCreateImageVariation",
    response_model=ImagesResponse,
    responses=ERRORS,
    summary="Create image variations (OpenAI-compatible)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image"],
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            **{name: {"type": "string"} for name in sorted(_VARIATION_FIELDS)},
                        },
                    }
                }
            },
        }
    },
)
async def create_variation(
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """OpenAI's `POST /v1/images/variations` (multipart, dall-e-2 in OpenAI's catalog)."""
    form, images, _mask = await _read_form(request, services, _VARIATION_FIELDS)
    model = form.get("model") or "dall-e-2"
    response_format = _choice(form, "response_format", ("url", "b64_json")) or default_response_format(model)
    params = SubmitParams(
        prompt="",
        model=model,
        style=None,
        size=None if form.get("size") in (None, "auto") else form.get("size"),
        quality=None,
        n=_int_field(form, "n", 1) or 1,
        seed=None,
        negative_prompt=None,
        metadata=_user_metadata(form),
        operation="variation",
        images=tuple(images),
    )
    outcome = await services.generations.operate(
        principal,
        params,
        idempotency_key=idempotency_key,
        preferences=sdk_preferences(request),
        endpoint="openai-variation",
        attempt=sdk_attempt(request),
        abandoned=hang_up(request),
    )
    return await _answer(outcome, request, services, response_format)


def _user_metadata(form: dict[str, str]) -> dict[str, Any]:
    return {name: form[name] for name in ("user", "safety_identifier") if form.get(name)}


# Answer this long before the SDK gives up reading, so it gets our 504 (naming the generation)
# rather than a timeout of its own.
_READ_TIMEOUT_MARGIN = 2.0


def sdk_attempt(request: Request) -> ClientAttempt | None:
    """Which attempt of an SDK call this is, when the client numbers them (OpenAI's SDKs do)."""
    value = request.headers.get("x-stainless-retry-count", "")
    if not (value.isascii() and value.isdigit()) or len(value) > 3:
        return None
    return ClientAttempt(int(value))


def sdk_preferences(request: Request) -> Preferences:
    """Wait at most until shortly before the SDK's announced read timeout (and the server's cap)."""
    value = request.headers.get("x-stainless-read-timeout", "")
    try:
        timeout = float(value) if value and len(value) < 16 else None
    except ValueError:
        timeout = None
    if timeout is None or not math.isfinite(timeout) or timeout <= 0:
        return Preferences()
    return Preferences(wait=max(timeout - _READ_TIMEOUT_MARGIN, timeout / 2))


def _with_headers(error: APIError, headers: dict[str, str]) -> APIError:
    error.headers.update(headers)
    return error


@router.get("/models", operation_id="openaiListModels", response_model=OpenAIModelList, responses=ERRORS)
async def list_models(_principal: ReadScope, services: ServicesDep) -> OpenAIModelList:
    """The catalog in OpenAI's list shape; `owned_by` is the model's first provider."""
    return OpenAIModelList(data=[_model(spec) for spec in services.catalog.models.values()])


@router.get("/models/{model}", operation_id="openaiGetModel", response_model=OpenAIModel, responses=ERRORS)
async def get_model(model: str, _principal: ReadScope, services: ServicesDep) -> OpenAIModel:
    spec = services.catalog.models.get(model)
    if spec is None:
        raise ModelNotAvailable(f"no model named {model!r}", param="model")
    return _model(spec)


def _model(spec: ModelSpec) -> OpenAIModel:
    # The catalog keeps no creation time; 0 says "unknown" in a field OpenAI's SDKs require.
    return OpenAIModel(
        id=spec.name, created=0, owned_by=spec.providers[0] if spec.providers else "orchestrator"
    )
