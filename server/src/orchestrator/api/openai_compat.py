"""OpenAI-compatible images API under ``/v1``: OpenAI's SDKs and tools work unchanged.

``POST /v1/images/generations`` is the same use case as ``POST /api/v1/generate`` (one service
method): the same keys, scopes, limits, budgets, idempotency, history, usage and storage. Only
the shapes differ. The ``url`` answered is our signed, stored image URL, never the provider's.
Errors keep the one envelope, whose ``message``, ``type``, ``param`` and ``code`` are OpenAI's
error object; invalid requests answer 400 as OpenAI does (see :func:`openai_status`).

The request shapes are in ``openai_schemas``, reading them in ``openai_params``, and the answers
(JSON and streamed) in ``openai_answers``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from orchestrator.api.deps import GenerateScope, ReadScope, ServicesDep
from orchestrator.api.disconnect import hang_up
from orchestrator.api.openai_answers import answer, openai_status, stream
from orchestrator.api.openai_params import (
    EDIT_FIELDS,
    VARIATION_FIELDS,
    OpenAICall,
    form_call,
    generation_call,
    read_form,
)
from orchestrator.api.openai_schemas import (
    ImageGenerationRequest,
    ImagesResponse,
    OpenAIModel,
    OpenAIModelList,
)
from orchestrator.api.schemas import ErrorEnvelope
from orchestrator.auth.principal import Principal
from orchestrator.catalog.catalog import ModelSpec
from orchestrator.container import Services
from orchestrator.errors import ModelNotAvailable
from orchestrator.generation.idempotency import ClientAttempt
from orchestrator.generation.params import GenerationOutcome, Preferences

__all__ = ["PREFIX", "UPLOAD_PATHS", "openai_status", "router", "sdk_attempt", "sdk_preferences"]

PREFIX = "/v1"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 402, 403, 404, 409, 413, 429, 502, 503, 504)
}
router = APIRouter(prefix=PREFIX, tags=["openai-compatible"], responses=ERRORS)
UPLOAD_PATHS = ("/images/edits", "/images/variations")
"""The multipart endpoints: their body cap is the upload cap, not the JSON one."""

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


@router.post(
    "/images/generations",
    operation_id="openaiCreateImage",
    response_model=ImagesResponse,
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
    call = generation_call(body)
    submit = services.generations.generate
    return await _respond(
        submit, call, "openai", "image_generation", request, principal, services, idempotency_key
    )


Submit = Callable[..., Awaitable[GenerationOutcome]]
"""``GenerationService.generate`` or ``operate``: one use case, the same keyword arguments."""


async def _respond(
    submit: Submit,
    call: OpenAICall,
    endpoint: str,
    kind: str,
    request: Request,
    principal: Principal,
    services: Services,
    idempotency_key: str | None,
) -> Response:
    """Every OpenAI door's call: a streamed one is accepted at once (its events follow the job);
    any other waits as long as the SDK will (an SDK's own retry joins its first attempt)."""
    outcome = await submit(
        principal,
        call.params,
        idempotency_key=idempotency_key,
        preferences=Preferences(respond_async=True) if call.stream else sdk_preferences(request),
        endpoint=f"{endpoint}-stream" if call.stream else endpoint,
        attempt=sdk_attempt(request),
        abandoned=hang_up(request),
    )
    if call.stream:
        return await stream(outcome, services, kind, call.params.options)
    return await answer(outcome, request, services, call.response_format)


_BINARY = {"type": "string", "format": "binary"}


def _form_body(required: list[str], files: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """The OpenAPI request body of a multipart door (FastAPI cannot see the form it reads)."""
    properties = {**files, **{name: {"type": "string"} for name in sorted(fields)}}
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


@router.post(
    "/images/edits",
    operation_id="openaiEditImage",
    response_model=ImagesResponse,
    summary="Edit images (OpenAI-compatible)",
    openapi_extra=_form_body(
        ["image", "prompt"],
        {"image": _BINARY, "image[]": {"type": "array", "items": _BINARY}, "mask": _BINARY},
        EDIT_FIELDS,
    ),
)
async def edit_image(
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """OpenAI's `POST /v1/images/edits` (multipart): the same use case as `POST /api/v1/images/edits`."""
    return await _form_door("edit", request, principal, services, idempotency_key)


@router.post(
    "/images/variations",
    operation_id="openaiCreateImageVariation",
    response_model=ImagesResponse,
    summary="Create image variations (OpenAI-compatible)",
    openapi_extra=_form_body(["image"], {"image": _BINARY}, VARIATION_FIELDS),
)
async def create_variation(
    request: Request,
    principal: GenerateScope,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """OpenAI's `POST /v1/images/variations` (multipart, dall-e-2 in OpenAI's catalog)."""
    return await _form_door("variation", request, principal, services, idempotency_key)


async def _form_door(
    operation: Literal["edit", "variation"],
    request: Request,
    principal: Principal,
    services: Services,
    idempotency_key: str | None,
) -> Response:
    form, images, mask = await read_form(
        request, services, EDIT_FIELDS if operation == "edit" else VARIATION_FIELDS
    )
    # A variation takes no mask (one sent is read and checked with the form, then unused).
    call = form_call(operation, form, images, mask if operation == "edit" else None)
    return await _respond(
        services.generations.operate,
        call,
        f"openai-{operation}",
        f"image_{operation}",
        request,
        principal,
        services,
        idempotency_key,
    )


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


@router.get("/models", operation_id="openaiListModels", response_model=OpenAIModelList)
async def list_models(_principal: ReadScope, services: ServicesDep) -> OpenAIModelList:
    """The catalog in OpenAI's list shape; `owned_by` is the model's first provider."""
    return OpenAIModelList(data=[_model(spec) for spec in services.catalog.models.values()])


@router.get("/models/{model}", operation_id="openaiGetModel", response_model=OpenAIModel)
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
