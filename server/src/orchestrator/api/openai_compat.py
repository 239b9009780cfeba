"""OpenAI-compatible images API under ``/v1``: OpenAI's SDKs and tools work unchanged.

``POST /v1/images/generations`` is the same use case as ``POST /api/v1/generate`` (one service
method): the same keys, scopes, limits, budgets, idempotency, history, usage and storage. Only
the shapes differ. The ``url`` answered is our signed, stored image URL, never the provider's.
Errors keep the one envelope, whose ``message``, ``type``, ``param`` and ``code`` are OpenAI's
error object; invalid requests answer 400 as OpenAI does (see :func:`openai_status`).
"""

from __future__ import annotations

import base64
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictInt

from orchestrator.api.deps import GenerateScope, ReadScope, ServicesDep
from orchestrator.api.disconnect import hang_up
from orchestrator.api.inputs import SafeText
from orchestrator.api.presenters import base_url, image_url
from orchestrator.api.schemas import ErrorEnvelope, Prompt, StrictBody
from orchestrator.catalog.catalog import ModelSpec
from orchestrator.core.states import JobStatus
from orchestrator.errors import APIError, ErrorCode, ModelNotAvailable
from orchestrator.generation.idempotency import ClientAttempt
from orchestrator.generation.params import Preferences, SubmitParams

PREFIX = "/v1"
router = APIRouter(prefix=PREFIX, tags=["openai-compatible"])

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
    background: Literal["auto"] | None = Field(default=None, description="Only `auto` is supported.")
    moderation: Literal["auto"] | None = Field(default=None, description="Only `auto` is supported.")
    output_format: Literal["png"] | None = Field(default=None, description="Only `png` is supported.")
    stream: Literal[False] | None = Field(default=None, description="Streaming is not supported.")


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
) -> JSONResponse:
    """OpenAI's `POST /v1/images/generations`, answered when the generation has finished.

    The OpenAI SDKs retry a 5xx or a timed-out call without an `Idempotency-Key`; their retries
    (`x-stainless-retry-count` ≥ 1) join the first attempt's generation instead of starting another,
    and the wait ends before the SDK's own read timeout (`x-stainless-read-timeout`)."""
    outcome = await services.generations.generate(
        principal,
        _params(body),
        idempotency_key=idempotency_key,
        preferences=sdk_preferences(request),
        endpoint="openai",
        attempt=sdk_attempt(request),
        abandoned=hang_up(request),
    )
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
        raise APIError(
            f"generation {job.id} is still {job.status} after the server's wait; "
            f"follow it at /api/v1/generations/{job.id} (a retry of this call joins the same "
            "generation when it carries the same Idempotency-Key, or is an OpenAI SDK's own retry)",
            code=ErrorCode.GENERATION_PENDING,
            status_code=504,
            headers=headers,
            extra={"generation_id": job.id},
        )
    base = base_url(request, services)
    data = []
    for image in job.images:
        if body.response_format == "b64_json":
            encoded = base64.b64encode(await services.storage.get(image.storage_key)).decode()
            data.append(ImageData(b64_json=encoded, revised_prompt=job.revised_prompt))
        else:
            data.append(
                ImageData(url=image_url(services, base, image.storage_key), revised_prompt=job.revised_prompt)
            )
    created = int((job.finished_at or job.created_at).timestamp())
    payload = ImagesResponse(created=created, data=data).model_dump(mode="json", exclude_none=True)
    return JSONResponse(payload, headers=headers)


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
