"""The OpenAI-compatible door's requests as the use case's parameters: the JSON
`images.generate` body, and the multipart `images.edit` / `images.createVariation` forms."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile

from orchestrator.api.inputs import text_problem
from orchestrator.api.openai_answers import default_response_format
from orchestrator.api.openai_schemas import ImageGenerationRequest
from orchestrator.api.operations import read_upload
from orchestrator.container import Services
from orchestrator.errors import ErrorCode, InvalidRequest
from orchestrator.generation.params import InputRef, OutputOptions, SubmitParams


@dataclass(frozen=True, slots=True)
class OpenAICall:
    """One OpenAI request, read: the use case's parameters and how to answer."""

    params: SubmitParams
    response_format: str
    """`url` or `b64_json` (a streamed answer always carries the bytes)."""
    stream: bool = False


def output_options(
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


def generation_call(body: ImageGenerationRequest) -> OpenAICall:
    """`POST /v1/images/generations`: `auto` is every model's default, so it means "not given"."""
    metadata = {
        name: value
        for name, value in (("user", body.user), ("safety_identifier", body.safety_identifier))
        if value is not None
    }
    params = SubmitParams(
        prompt=body.prompt,
        model=body.model,
        style=body.style,
        size=None if body.size in (None, "auto") else body.size,
        quality=None if body.quality in (None, "auto") else body.quality,
        n=body.n,
        seed=None,
        negative_prompt=None,
        metadata=metadata,
        options=output_options(body.background, body.output_format, body.output_compression, body.moderation),
        partial_images=(body.partial_images or 0) if body.stream else 0,
        cache=body.cache,
    )
    response_format = body.response_format or default_response_format(body.model)
    return OpenAICall(params, response_format, stream=bool(body.stream))


EDIT_FIELDS = frozenset(
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
VARIATION_FIELDS = frozenset({"model", "n", "size", "response_format", "user"})


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


async def read_form(
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


def form_call(
    operation: str, form: dict[str, str], images: list[InputRef], mask: InputRef | None
) -> OpenAICall:
    """An `edit` or `variation` form as the use case's parameters; fields the form may not carry
    (see :data:`EDIT_FIELDS`, :data:`VARIATION_FIELDS`) are absent and take their defaults."""
    prompt = form.get("prompt", "")
    if operation == "edit" and not prompt.strip():
        raise InvalidRequest("prompt is required", param="prompt")
    model = form.get("model") or "dall-e-2"
    stream = _choice(form, "stream", ("true", "false")) == "true"
    partial_images = _int_field(form, "partial_images", 0, 3) or 0
    response_format = _choice(form, "response_format", ("url", "b64_json")) or default_response_format(model)
    options = output_options(
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
        metadata={name: form[name] for name in ("user", "safety_identifier") if form.get(name)},
        operation=operation,
        images=tuple(images),
        mask=mask,
        options=options,
        partial_images=partial_images if stream else 0,
    )
    return OpenAICall(params, response_format, stream=stream)
