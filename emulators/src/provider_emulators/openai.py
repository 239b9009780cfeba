"""Loopback emulator of the OpenAI Images API: generations, edits and variations.

- ``POST /v1/images/generations`` (JSON);
- ``POST /v1/images/edits`` (multipart: ``image`` or up to 16 ``image[]`` for GPT image models,
  one square PNG under 4 MB for dall-e-2; optional ``mask``, a PNG with alpha of the first
  image's size);
- ``POST /v1/images/variations`` (multipart, dall-e-2 only);
- ``stream: true`` on GPT image models answers Server-Sent Events: ``partial_images`` (0-3)
  ``image_generation.partial_image`` events (``image_edit.*`` for edits), then ``*.completed``.

Faithful to the wire format in ``providers.md`` §1: Bearer auth with OpenAI's own 401 bodies,
per-model validation of ``size``/``quality``/``n``/``style``/``response_format`` answered with
``{"error": {message, type, param, code}}``, GPT image models answering ``b64_json`` with
``usage``, DALL·E answering URLs (served here, valid until ``expire_urls``) or ``b64_json``,
and the response headers real clients read (``x-request-id``, ``openai-processing-ms``,
``x-ratelimit-*``). Fault knobs: the common :class:`~provider_emulators._common.Faults` plus
``insufficient_quota`` (:class:`OpenAIFaults`); ``refuse`` answers ``content_policy_violation``
(DALL·E) or ``moderation_blocked`` (GPT image).

The default accepted key is :data:`DEFAULT_API_KEY`; point the orchestrator at it with
``ORCHESTRATOR_OPENAI_BASE_URL=http://127.0.0.1:<port>/v1``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from provider_emulators._common import (
    MIME,
    EmulatorState,
    FaultResponses,
    Faults,
    apply_faults,
    bearer,
    control_routes,
    image_info,
    make_image,
    malformed_json,
    parse_multipart_parts,
    record_request,
)

DEFAULT_API_KEY = "sk-emulator-openai"


@dataclass
class OpenAIFaults(Faults):
    insufficient_quota: int = 0
    """Next N requests answer 429 ``insufficient_quota`` (out of credit: waiting will not help)."""
    refuse_output: int = 0
    """Next N streamed requests send their partial images, then an ``error`` event
    ``moderation_blocked`` instead of the completed image (output moderation)."""
    truncate_images: int = 0
    """Next N successful generations deliver their images cut off halfway through the file (a
    transfer that broke off upstream), inside an otherwise well-formed answer."""


@dataclass
class OpenAIState(EmulatorState):
    faults: OpenAIFaults = field(default_factory=OpenAIFaults)


@dataclass(frozen=True, slots=True)
class ImageModel:
    """What ``POST /v1/images/generations`` accepts for one model (OpenAI's API reference)."""

    sizes: tuple[str, ...] | None
    """Allowed ``size`` values; ``None``: any ``WxH`` with both sides multiples of 16, aspect
    between 1:3 and 3:1, at most 3840x2160 pixels (gpt-image-2), or ``auto``."""
    qualities: tuple[str, ...]
    max_n: int
    max_prompt: int
    gpt_image: bool
    """GPT image models answer ``b64_json`` only and take background/moderation/output_* fields;
    DALL·E models take ``response_format`` (and dall-e-3 ``style``)."""
    default_size: str
    styles: tuple[str, ...] = ()
    """Allowed ``style`` values; empty: the model has no ``style`` parameter."""


_GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
_GPT_QUALITIES = ("auto", "low", "medium", "high")
_GPT = ImageModel(_GPT_SIZES, _GPT_QUALITIES, 10, 32000, True, "auto")
_GPT_FREE_SIZE = ImageModel(None, _GPT_QUALITIES, 10, 32000, True, "auto")
MODELS: dict[str, ImageModel] = {
    "gpt-image-1": _GPT,
    "gpt-image-1-mini": _GPT,
    "gpt-image-1.5": _GPT,
    "chatgpt-image-latest": _GPT,
    "gpt-image-2": _GPT_FREE_SIZE,
    "gpt-image-2-2026-04-21": _GPT_FREE_SIZE,
    "dall-e-2": ImageModel(
        ("256x256", "512x512", "1024x1024"), ("auto", "standard"), 10, 1000, False, "1024x1024"
    ),
    "dall-e-3": ImageModel(
        ("1024x1024", "1792x1024", "1024x1792"),
        ("auto", "standard", "hd"),
        1,
        4000,
        False,
        "1024x1024",
        styles=("vivid", "natural"),
    ),
}
DEFAULT_MODEL = "dall-e-2"
"""The model used when the request names none."""
KNOWN_FIELDS = frozenset(
    {
        "prompt",
        "model",
        "n",
        "size",
        "quality",
        "response_format",
        "style",
        "background",
        "moderation",
        "output_format",
        "output_compression",
        "partial_images",
        "stream",
        "user",
    }
)
EDIT_MODELS = frozenset({"dall-e-2", *(name for name, spec in MODELS.items() if spec.gpt_image)})
"""Models ``/v1/images/edits`` accepts (dall-e-3 has no edits)."""
EDIT_FIELDS = (KNOWN_FIELDS - {"style"}) | {"image", "image[]", "mask", "input_fidelity"}
VARIATION_FIELDS = frozenset({"image", "model", "n", "size", "response_format", "user"})
MAX_EDIT_IMAGES = 16
DALLE2_MAX_BYTES = 4 * 1024 * 1024
GPT_MAX_BYTES = 50 * 1024 * 1024
GPT_ONLY = ("background", "moderation", "output_format", "output_compression", "partial_images", "stream")


def _error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status, headers=headers)


class _Invalid(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> _Invalid:
    listed = ", ".join(f"'{a}'" for a in allowed)
    return _Invalid(
        _error(
            400,
            f"Invalid value: '{value}'. Supported values are: {listed}.",
            param=param,
            code="invalid_value",
        )
    )


def _unknown_parameter(param: str) -> _Invalid:
    return _Invalid(_error(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"))


def _rate_limited(retry_after: float) -> Response:
    return _error(
        429,
        "Rate limit reached for images per minute (ipm): Limit 5, Used 5, Requested 1. "
        "Please try again later.",
        type_="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": f"{retry_after:g}",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{retry_after:g}s",
        },
    )


def _server_error(status: int) -> Response:
    message = (
        "The engine is currently overloaded, please try again later."
        if status == 503
        else "The server had an error while processing your request. Sorry about that!"
    )
    return _error(status, message, type_="server_error")


FAULTS = FaultResponses(rate_limited=_rate_limited, server_error=_server_error)


def _mask(key: str) -> str:
    """How OpenAI echoes a rejected key: a short prefix, stars, the last four characters."""
    return f"{key[:6]}{'*' * 12}{key[-4:]}" if len(key) > 10 else f"{key[:3]}***"


def _validate(
    body: dict[str, Any], known: frozenset[str] = KNOWN_FIELDS, models: frozenset[str] | None = None
) -> tuple[str, str, int, str, str]:
    """Validate like OpenAI; returns (model, size, n, quality, response_format)."""
    unknown = sorted(set(body) - known)
    if unknown:
        raise _unknown_parameter(unknown[0])
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise _Invalid(
            _error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        )
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise _Invalid(
            _error(400, "Invalid type for 'model': expected a string.", param="model", code="invalid_type")
        )
    spec = MODELS.get(model)
    if spec is None:
        raise _Invalid(_error(404, "The model does not exist.", code="model_not_found"))
    if models is not None and model not in models:
        raise _invalid_value("model", model, tuple(sorted(models)))
    gpt = spec.gpt_image
    limit = spec.max_prompt
    if len(prompt) > limit:
        raise _Invalid(
            _error(
                400,
                f"Invalid 'prompt': string too long. Expected a string with maximum "
                f"length {limit}, but got a string with length {len(prompt)} instead.",
                param="prompt",
                code="string_above_max_length",
            )
        )
    n = body.get("n", 1)
    max_n = spec.max_n
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise _Invalid(
            _error(
                400,
                f"Invalid value for 'n': {n}. Must be an integer between 1 and {max_n}.",
                param="n",
                code="invalid_value",
            )
        )
    if n > max_n:
        raise _Invalid(
            _error(
                400,
                f"Invalid 'n': integer above maximum value. Expected a value <= {max_n}, "
                f"but got {n} instead.",
                param="n",
                code="integer_above_max_value",
            )
        )
    size = body.get("size", spec.default_size)
    if spec.sizes is None:
        _validate_free_size(size)
    elif size not in spec.sizes:
        raise _invalid_value("size", size, spec.sizes)
    if "partial_images" in body:
        partial = body["partial_images"]
        if not isinstance(partial, int) or isinstance(partial, bool) or not 0 <= partial <= 3:
            raise _Invalid(
                _error(
                    400,
                    f"Invalid value for 'partial_images': {partial}. Must be an integer between 0 and 3.",
                    param="partial_images",
                    code="invalid_value",
                )
            )
    if "output_compression" in body:
        compression = body["output_compression"]
        if not isinstance(compression, int) or isinstance(compression, bool) or not 0 <= compression <= 100:
            raise _Invalid(
                _error(
                    400,
                    "Invalid 'output_compression': must be an integer between 0 and 100.",
                    param="output_compression",
                    code="invalid_value",
                )
            )
    for param, allowed in (
        ("background", ("transparent", "opaque", "auto")),
        ("moderation", ("low", "auto")),
    ):
        if param in body and body[param] not in allowed:
            raise _invalid_value(param, body[param], allowed)
    if body.get("background") == "transparent" and body.get("output_format", "png") == "jpeg":
        raise _Invalid(
            _error(
                400,
                "Transparent background is not supported for output_format 'jpeg'; use 'png' or 'webp'.",
                param="background",
                code="invalid_value",
            )
        )
    quality = body.get("quality", "auto")
    if quality not in spec.qualities:
        raise _invalid_value("quality", quality, spec.qualities)
    response_format = body.get("response_format")
    if gpt:
        for param in ("response_format", "style"):
            if param in body:
                raise _unknown_parameter(param)
        output_format = body.get("output_format", "png")
        if output_format not in ("png", "jpeg", "webp"):
            raise _invalid_value("output_format", output_format, ("png", "jpeg", "webp"))
        response_format = "b64_json"
    else:
        for param in GPT_ONLY:
            if param in body:
                raise _unknown_parameter(param)
        response_format = response_format or "url"
        if response_format not in ("url", "b64_json"):
            raise _invalid_value("response_format", response_format, ("url", "b64_json"))
        if "style" in body and not spec.styles:
            raise _unknown_parameter("style")
        if "style" in body and body["style"] not in spec.styles:
            raise _invalid_value("style", body["style"], spec.styles)
    return model, str(size), n, str(quality), str(response_format)


def _validate_free_size(size: Any) -> None:
    if size == "auto":
        return
    width, sep, height = str(size).partition("x")
    ok = sep and width.isdigit() and height.isdigit()
    if ok:
        w, h = int(width), int(height)
        ok = w % 16 == 0 and h % 16 == 0 and 1 / 3 <= w / h <= 3 and w * h <= 3840 * 2160
    if not ok:
        raise _Invalid(
            _error(
                400,
                f"Invalid value: '{size}'. Size must be 'auto' or WIDTHxHEIGHT with both "
                "sides multiples of 16, an aspect ratio between 1:3 and 3:1 and at most "
                "3840x2160 pixels.",
                param="size",
                code="invalid_value",
            )
        )


def _parse_form(parts: list[tuple[str, str | bytes]]) -> tuple[dict[str, Any], list[bytes], bytes | None]:
    """Multipart parts → (fields as OpenAI reads them, images in order, mask)."""
    fields: dict[str, Any] = {}
    images: list[bytes] = []
    mask: bytes | None = None
    for name, value in parts:
        if name in ("image", "image[]"):
            fields[name] = True
            images.append(value if isinstance(value, bytes) else value.encode())
        elif name == "mask":
            mask = value if isinstance(value, bytes) else value.encode()
            fields[name] = True
        else:
            text = value.decode() if isinstance(value, bytes) else value
            fields[name] = (
                int(text)
                if name in ("n", "output_compression", "partial_images") and _is_int(text)
                else (text.lower() == "true" if name == "stream" else text)
            )
    return fields, images, mask


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def _check_images(model: str, images: list[bytes], mask: bytes | None, *, variation: bool) -> None:
    """OpenAI's input-image rules for edits and variations."""
    if not images:
        raise _Invalid(
            _error(
                400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter"
            )
        )
    gpt = MODELS[model].gpt_image
    limit = MAX_EDIT_IMAGES if gpt else 1
    if len(images) > limit:
        raise _Invalid(
            _error(
                400,
                f"Invalid 'image': too many images. Expected at most {limit}, got {len(images)}.",
                param="image",
                code="array_above_max_length",
            )
        )
    infos = []
    for data in images:
        info = image_info(data)
        allowed = ("PNG", "JPEG", "WEBP") if gpt else ("PNG",)
        if info is None or info[0] not in allowed:
            kinds = ", ".join(f"'image/{a.lower()}'" for a in allowed)
            raise _Invalid(
                _error(
                    400,
                    f"Invalid image file or mode for image 1, please check your image file. "
                    f"Supported file formats are {kinds}.",
                    param="image",
                    code="invalid_image_format",
                )
            )
        if len(data) > (GPT_MAX_BYTES if gpt else DALLE2_MAX_BYTES):
            raise _Invalid(
                _error(400, "Invalid 'image': file is too large.", param="image", code="image_too_large")
            )
        if not gpt and info[1] != info[2]:
            raise _Invalid(
                _error(
                    400, "Invalid input image - image must be square.", param="image", code="invalid_image"
                )
            )
        infos.append(info)
    if mask is not None:
        info = image_info(mask)
        if info is None or info[0] != "PNG" or info[3] not in ("RGBA", "LA", "PA"):
            raise _Invalid(
                _error(
                    400,
                    "Invalid mask image format - mask must be a PNG with an alpha channel.",
                    param="mask",
                    code="invalid_image_format",
                )
            )
        if (info[1], info[2]) != (infos[0][1], infos[0][2]):
            raise _Invalid(
                _error(
                    400,
                    "Invalid mask image - mask size does not match image size.",
                    param="mask",
                    code="invalid_value",
                )
            )
    if variation and not gpt and infos[0][3] not in ("RGB", "RGBA", "L", "LA", "P", "PA"):
        raise _Invalid(_error(400, "Invalid input image.", param="image", code="invalid_image"))


def create_app(state: OpenAIState | None = None) -> Starlette:
    """The OpenAI Images emulator; its state (knobs, request log) is ``app.state.emulator``."""
    state = state or OpenAIState(api_key=DEFAULT_API_KEY)

    async def authorize(request: Request) -> tuple[bytes, Response | None]:
        """Record, apply faults, check the key and the quota; a response means: answer with it."""
        raw = await record_request(state, request)
        fault = await apply_faults(state, FAULTS)
        if fault is not None:
            return raw, fault
        token = bearer(request)
        if token is None:
            return raw, _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
                "as the password field (with blank username) if you're accessing the API from "
                "your browser and are prompted for a username and password. You can obtain an "
                "API key from https://platform.openai.com/account/api-keys.",
            )
        if not state.key_ok(token):
            return raw, _error(
                401,
                f"Incorrect API key provided: {_mask(token)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        if state.faults.take("insufficient_quota"):
            return raw, _error(
                429,
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                type_="insufficient_quota",
                code="insufficient_quota",
            )
        return raw, None

    def answer(
        request: Request,
        body: dict[str, Any],
        checked: tuple[str, str, int, str, str],
        *,
        started: float,
        event_prefix: str,
        seed_text: str,
    ) -> Response:
        """The images for a validated request: JSON, or Server-Sent Events when streaming."""
        model, size, n, quality, response_format = checked
        gpt = MODELS[model].gpt_image
        number = state.next_id()
        request_id = f"req_{hashlib.sha256(str(number).encode()).hexdigest()[:32]}"
        if state.faults.take("refuse"):
            if gpt:
                return _error(
                    400,
                    "Your request was rejected by the safety system. If you believe this is "
                    "an error, contact us at help.openai.com and include the request ID "
                    f"{request_id}. safety_violations=[violence].",
                    type_="image_generation_user_error",
                    code="moderation_blocked",
                    headers={"x-request-id": request_id},
                )
            return _error(
                400,
                "Your request was rejected as a result of our safety system. Your prompt may "
                "contain text that is not allowed by our safety system.",
                code="content_policy_violation",
                headers={"x-request-id": request_id},
            )
        if size == "auto":
            size = "1024x1024"
        width, height = (int(v) for v in size.split("x"))
        fmt = str(body.get("output_format", "png")).upper() if gpt else "PNG"
        images = []
        for index in range(n):
            seed = int.from_bytes(hashlib.sha256(f"{seed_text}:{index}".encode()).digest()[:4], "big")
            images.append(make_image(width, height, seed, fmt))
        headers = {
            "x-request-id": request_id,
            "openai-processing-ms": str(int((time.monotonic() - started) * 1000)),
            "openai-version": "2020-10-01",
            "openai-organization": "emulator-org",
            "x-ratelimit-limit-requests": "50",
            "x-ratelimit-remaining-requests": "49",
            "x-ratelimit-reset-requests": "1.2s",
        }
        shown_quality = "medium" if quality == "auto" else quality
        usage: dict[str, Any] = {}
        if gpt:
            tokens = max(1, len(str(body.get("prompt", ""))) // 4)
            output = {"low": 272, "medium": 1056, "high": 4160, "auto": 1056}[quality] * n
            usage = {
                "input_tokens": tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": tokens},
                "output_tokens": output,
                "total_tokens": tokens + output,
                "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
            }
        if state.faults.take("truncate_images"):
            images = [image[: len(image) // 2] for image in images]
        if gpt and body.get("stream") is True:
            return _stream(
                event_prefix,
                images[0],
                partials=int(body.get("partial_images", 0)),
                common={
                    "background": body.get("background", "auto"),
                    "output_format": fmt.lower(),
                    "quality": quality,
                    "size": size,
                },
                usage=usage,
                headers=headers,
                width=width,
                height=height,
                refuse_output=state.faults.take("refuse_output"),
            )
        data: list[dict[str, Any]] = []
        for index, image in enumerate(images):
            item: dict[str, Any] = {}
            if response_format == "b64_json":
                item["b64_json"] = base64.b64encode(image).decode()
            else:
                path = state.add_file(image, MIME[fmt], name=f"img-{number}-{index}.png")
                item["url"] = str(request.base_url).rstrip("/") + path
            if model == "dall-e-3":
                item["revised_prompt"] = f"{body['prompt']}, rendered in rich detail"
            data.append(item)
        payload: dict[str, Any] = {"created": int(time.time()), "data": data}
        if gpt:
            payload.update(
                background=body.get("background", "opaque"),
                output_format=fmt.lower(),
                quality=shown_quality,
                size=size,
                usage=usage,
            )
        if state.faults.take("malformed"):
            return malformed_json(200, headers)
        return JSONResponse(payload, headers=headers)

    async def generations(request: Request) -> Response:
        started = time.monotonic()
        raw, early = await authorize(request)
        if early is not None:
            return early
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON.)",
            )
        if not isinstance(body, dict):
            return _error(400, "Invalid type for body: expected an object.")
        try:
            checked = _validate(body)
        except _Invalid as invalid:
            return invalid.response
        return answer(
            request, body, checked, started=started, event_prefix="image_generation", seed_text=body["prompt"]
        )

    async def multipart(request: Request, *, variation: bool) -> Response:
        started = time.monotonic()
        raw, early = await authorize(request)
        if early is not None:
            return early
        parts = parse_multipart_parts(raw, request.headers.get("content-type", ""))
        if parts is None:
            return _error(
                400,
                "Invalid Content-Type header (application/json), expected multipart/form-data. "
                "(HINT: If you're using curl, you can pass -F 'key=value' to send multipart data.)",
            )
        fields, images, mask = _parse_form(parts)
        gpt_params = {"background", "moderation", "output_format", "output_compression", "stream"}
        default_model = "gpt-image-1" if gpt_params & set(fields) else DEFAULT_MODEL
        model = str(fields.get("model", default_model))
        try:
            if variation:
                unknown = sorted(set(fields) - VARIATION_FIELDS)
                if unknown:
                    raise _unknown_parameter(unknown[0])
                if model != "dall-e-2":
                    raise _invalid_value("model", model, ("dall-e-2",))
                # Variations have no prompt; validate the rest with generation's rules.
                plain = {k: v for k, v in fields.items() if k != "image"}
                checked = _validate({**plain, "prompt": "variation", "model": model}, KNOWN_FIELDS)
            else:
                checked = _validate({**fields, "model": model}, EDIT_FIELDS, EDIT_MODELS)
            _check_images(model, images, mask, variation=variation)
        except _Invalid as invalid:
            return invalid.response
        seed_text = hashlib.sha256(b"".join(images) + str(fields.get("prompt", "")).encode()).hexdigest()
        return answer(
            request,
            {**fields, "model": model},
            checked,
            started=started,
            event_prefix="image_edit",
            seed_text=seed_text,
        )

    async def edits(request: Request) -> Response:
        return await multipart(request, variation=False)

    async def variations(request: Request) -> Response:
        return await multipart(request, variation=True)

    async def unknown(request: Request) -> Response:
        await record_request(state, request)
        return _error(404, f"Invalid URL ({request.method} {request.url.path})")

    app = Starlette(
        routes=[
            Route("/v1/images/generations", generations, methods=["POST"]),
            Route("/v1/images/edits", edits, methods=["POST"]),
            Route("/v1/images/variations", variations, methods=["POST"]),
            *control_routes(state),
            Route("/v1/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
    )
    app.state.emulator = state
    return app


def _stream(
    prefix: str,
    image: bytes,
    *,
    partials: int,
    common: dict[str, Any],
    usage: dict[str, Any],
    headers: dict[str, str],
    width: int,
    height: int,
    refuse_output: bool = False,
) -> StreamingResponse:
    """``partials`` partial-image events, then the completed event, as OpenAI streams them."""

    async def events() -> AsyncIterator[bytes]:
        created = int(time.time())
        fmt = str(common["output_format"]).upper()
        for index in range(partials):
            # A coarser, earlier rendering of the same picture stands in for each partial.
            partial = make_image(
                max(1, width // (2 ** (partials - index))),
                max(1, height // (2 ** (partials - index))),
                index,
                fmt,
            )
            event = {
                "type": f"{prefix}.partial_image",
                "b64_json": base64.b64encode(partial).decode(),
                "created_at": created,
                "partial_image_index": index,
                **common,
            }
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        if refuse_output:
            error = {
                "type": "error",
                "error": {
                    "type": "image_generation_user_error",
                    "code": "moderation_blocked",
                    "message": "Your request was rejected by the safety system. safety_violations=[sexual].",
                    "param": None,
                },
            }
            yield f"event: error\ndata: {json.dumps(error)}\n\n".encode()
            return
        done = {
            "type": f"{prefix}.completed",
            "b64_json": base64.b64encode(image).decode(),
            "created_at": created,
            "usage": usage,
            **common,
        }
        yield f"event: {done['type']}\ndata: {json.dumps(done)}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
