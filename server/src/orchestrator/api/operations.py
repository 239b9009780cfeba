"""The image operations under /api/v1/images: edit, variations, upscale, remove-background and
image-to-image. Each takes JSON (inputs as stored image ids or https URLs) or multipart/form-data
(uploaded files, or the same ids and URLs as text), and is answered like `POST /generate`.

Routers parse and shape; the one service method (`GenerationService.operate`) decides, for this
door and the OpenAI-compatible one alike.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from orchestrator.api.deps import GenerateScope, ServicesDep
from orchestrator.api.disconnect import hang_up
from orchestrator.api.generate import (
    ERRORS,
    GENERATION_LINKS,
    IdempotencyKey,
    Prefer,
    _job_response,
    parse_prefer,
)
from orchestrator.api.inputs import Metadata, SafeText
from orchestrator.api.schemas import CacheChoice, GenerationResponse, Prompt, StrictBody
from orchestrator.errors import ErrorCode, InvalidRequest
from orchestrator.generation.inputs import parse_image_ref
from orchestrator.generation.params import InputRef, OutputOptions, SubmitParams

router = APIRouter(tags=["image operations"], responses=ERRORS)

PATHS = {
    "edit": "/images/edits",
    "variation": "/images/variations",
    "upscale": "/images/upscale",
    "remove_background": "/images/remove-background",
    "image_to_image": "/images/image-to-image",
}

ImageSpec = SafeText
"""An input image as text: a stored image (`gen_…`, or `gen_…:N` for its N-th image) or an
`https://` URL we fetch (public addresses only)."""

_IMAGE_DOC = (
    "A stored image (`gen_…` for a generation's first image, `gen_…:N` for its N-th) or an "
    "`https://` URL (fetched from public addresses only)."
)


class _OperationBody(StrictBody):
    model: SafeText = Field(
        min_length=1, max_length=64, description="A catalog model that supports the operation."
    )
    metadata: Metadata = Field(default_factory=dict)
    cache: CacheChoice = None


class _OneImage(_OperationBody):
    image: ImageSpec = Field(max_length=2048, description=_IMAGE_DOC)


class _Outputs(BaseModel):
    background: Literal["transparent", "opaque", "auto"] | None = Field(
        default=None, description="Where the model supports it (gpt-image)."
    )
    output_format: Literal["png", "jpeg", "webp"] | None = Field(
        default=None, description="Where the model supports it (gpt-image)."
    )
    output_compression: int | None = Field(
        default=None, ge=0, le=100, strict=True, description="jpeg/webp only, where supported."
    )
    moderation: Literal["low", "auto"] | None = Field(
        default=None, description="Where supported (gpt-image)."
    )


class EditRequest(_OperationBody, _Outputs):
    """Repaint images from a prompt; with a mask, only its transparent pixels."""

    model: SafeText = Field(default="gpt-image-1", min_length=1, max_length=64)
    prompt: Prompt
    images: list[ImageSpec] = Field(
        min_length=1, max_length=16, description="1 to 16 input images. " + _IMAGE_DOC
    )
    mask: ImageSpec | None = Field(
        default=None, max_length=2048, description="A PNG with alpha, the first image's size. " + _IMAGE_DOC
    )
    n: int = Field(default=1, ge=1, strict=True)
    quality: SafeText | None = Field(default=None, max_length=16, description="One of the model's qualities.")
    size: SafeText | None = Field(
        default=None, max_length=16, description="`WIDTHxHEIGHT`; default: the input's."
    )
    seed: int | None = Field(default=None, ge=0, le=4_294_967_294, strict=True)


class VariationRequest(_OneImage):
    """More images like this one (no prompt)."""

    model: SafeText = Field(default="dall-e-2", min_length=1, max_length=64)
    n: int = Field(default=1, ge=1, strict=True)
    size: SafeText | None = Field(default=None, max_length=16)
    seed: int | None = Field(default=None, ge=0, le=4_294_967_294, strict=True)


class UpscaleRequest(_OneImage):
    """The image enlarged `factor` times."""

    model: SafeText = Field(default="magnific-upscaler", min_length=1, max_length=64)
    factor: int | None = Field(
        default=None, ge=1, le=16, strict=True, description="One of the model's factors."
    )
    prompt: SafeText | None = Field(default=None, max_length=4000, description="For creative upscalers.")


class RemoveBackgroundRequest(_OneImage):
    """The subject on a transparent background (PNG)."""

    model: SafeText = Field(default="freepik-remove-background", min_length=1, max_length=64)


class ImageToImageRequest(_OneImage):
    """A new image from a prompt, guided by the input; `strength` says how far from it to go."""

    model: SafeText = Field(default="flux-kontext-pro", min_length=1, max_length=64)
    prompt: Prompt
    strength: float | None = Field(default=None, ge=0, le=1, description="0 keeps the image, 1 ignores it.")
    n: int = Field(default=1, ge=1, strict=True)
    seed: int | None = Field(default=None, ge=0, le=4_294_967_294, strict=True)
    negative_prompt: SafeText | None = Field(default=None, max_length=2000)


BODIES: dict[str, type[_OperationBody]] = {
    "edit": EditRequest,
    "variation": VariationRequest,
    "upscale": UpscaleRequest,
    "remove_background": RemoveBackgroundRequest,
    "image_to_image": ImageToImageRequest,
}
_INTS = ("n", "seed", "factor", "output_compression")
_FILE_FIELDS = ("image", "image[]", "images", "mask")


def _ref(field: str, value: str) -> InputRef:
    value = value.strip()
    if value.lower().startswith(("https://", "http://")):
        return InputRef(field, url=value)
    return parse_image_ref(field, value)


def _validate(model: type[_OperationBody], data: dict[str, Any]) -> _OperationBody:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


async def read_upload(upload: UploadFile, field: str, max_bytes: int) -> bytes:
    """An uploaded file's bytes, refusing (413, naming the field) one over the per-file cap."""
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidRequest(
            f"{field}: the file is over {max_bytes} bytes (rule: too_large)",
            param=field,
            code=ErrorCode.PAYLOAD_TOO_LARGE,
            extra={"rule": "too_large"},
        )
    return data


async def _parse(
    request: Request, operation: str, max_bytes: int
) -> tuple[_OperationBody, list[InputRef], InputRef | None]:
    model = BODIES[operation]
    content_type = request.headers.get("content-type", "")
    image_field = "images" if operation == "edit" else "image"
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=32, max_fields=64)
        except Exception as exc:  # a malformed multipart body: the client's error, never a 500
            raise InvalidRequest(
                "the multipart body could not be parsed", code=ErrorCode.INVALID_BODY, status_code=400
            ) from exc
        data: dict[str, Any] = {}
        images: list[InputRef] = []
        mask: InputRef | None = None
        for name, value in form.multi_items():
            if name in _FILE_FIELDS:
                field = "mask" if name == "mask" else f"{image_field}[{len(images)}]"
                if isinstance(value, UploadFile):
                    ref = InputRef(field, data=await read_upload(value, field, max_bytes))
                else:
                    ref = _ref(field, value)
                if name == "mask":
                    mask = ref
                else:
                    images.append(ref)
            elif isinstance(value, str):
                data[name] = int(value) if name in _INTS and value.strip().lstrip("-").isdigit() else value
                if name == "strength":
                    with contextlib.suppress(ValueError):
                        data[name] = float(value)
                if name == "metadata":
                    with contextlib.suppress(ValueError):
                        data[name] = json.loads(value)
                if name == "cache":
                    data[name] = {"true": True, "false": False}.get(value.strip().lower(), value)
        # The body model still checks every other field; the inputs came as files or text.
        placeholder = "gen_0"
        if operation == "edit":
            data["images"] = [placeholder] * max(1, len(images))
        else:
            if len(images) > 1:
                raise InvalidRequest(f"{operation} takes one image", param="image")
            data["image"] = placeholder
        if mask is not None:
            data["mask"] = placeholder
        body = _validate(model, data)
        if not images:
            raise InvalidRequest(
                f"{operation} needs an input image: send it as `{image_field}`", param=image_field
            )
        return body, images, mask
    raw = await request.body()
    try:
        body = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    if isinstance(body, EditRequest):
        images = [_ref(f"images[{i}]", v) for i, v in enumerate(body.images)]
        mask = None if body.mask is None else _ref("mask", body.mask)
    else:
        assert isinstance(body, _OneImage)
        images = [_ref("image", body.image)]
        mask = None
    return body, images, mask


def _params(
    operation: str, body: _OperationBody, images: list[InputRef], mask: InputRef | None
) -> SubmitParams:
    fields = body.model_dump()
    return SubmitParams(
        prompt=fields.get("prompt") or "",
        model=body.model,
        style=None,
        size=fields.get("size"),
        quality=fields.get("quality"),
        n=fields.get("n", 1),
        seed=fields.get("seed"),
        negative_prompt=fields.get("negative_prompt"),
        metadata=body.metadata,
        cache=body.cache,
        operation=operation,
        images=tuple(images),
        mask=mask,
        strength=fields.get("strength"),
        scale=fields.get("factor"),
        options=OutputOptions(
            background=fields.get("background"),
            output_format=fields.get("output_format"),
            output_compression=fields.get("output_compression"),
            moderation=fields.get("moderation"),
        ),
    )


def _openapi(operation: str) -> dict[str, Any]:
    schema = BODIES[operation].model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    form = {
        "type": "object",
        "description": "The JSON fields as form fields; inputs as files (or as ids and URLs in text).",
        "properties": {
            ("images" if operation == "edit" else "image"): {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
            },
            **({"mask": {"type": "string", "format": "binary"}} if operation == "edit" else {}),
            **{
                name: {"type": "string"}
                for name in schema.get("properties", {})
                if name not in ("images", "image", "mask")
            },
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": form}},
        }
    }


def _endpoint(operation: str, operation_id: str, summary: str) -> None:
    async def handler(
        request: Request,
        principal: GenerateScope,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
        prefer: Prefer = None,
    ) -> Response:
        body, images, mask = await _parse(request, operation, services.settings.max_input_image_bytes)
        outcome = await services.generations.operate(
            principal,
            _params(operation, body, images, mask),
            idempotency_key=idempotency_key,
            preferences=parse_prefer(prefer),
            endpoint=operation,
            abandoned=hang_up(request),
        )
        return _job_response(outcome, services, request)

    handler.__doc__ = (
        f"{BODIES[operation].__doc__} A durable job like a generation (idempotency, limits, budgets, "
        "history, webhooks, events); inputs are checked before anything is stored or charged."
    )
    router.add_api_route(
        PATHS[operation],
        handler,
        methods=["POST"],
        operation_id=operation_id,
        summary=summary,
        response_model=GenerationResponse,
        responses={
            200: {"links": GENERATION_LINKS},
            202: {"model": GenerationResponse, "description": "Queued (async or still running)"},
        },
        openapi_extra=_openapi(operation),
    )


_endpoint("edit", "editImage", "Edit images")
_endpoint("variation", "createImageVariation", "Create variations of an image")
_endpoint("upscale", "upscaleImage", "Upscale an image")
_endpoint("remove_background", "removeImageBackground", "Remove an image's background")
_endpoint("image_to_image", "imageToImage", "Image to image")
