"""Loopback emulator of the OpenAI Images API (``POST /v1/images/generations``).

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
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provider_emulators._common import (
    MIME,
    EmulatorState,
    FaultResponses,
    Faults,
    apply_faults,
    bearer,
    control_routes,
    make_image,
    malformed_json,
    record_request,
)

DEFAULT_API_KEY = "sk-emulator-openai"


@dataclass
class OpenAIFaults(Faults):
    insufficient_quota: int = 0
    """Next N requests answer 429 ``insufficient_quota`` (out of credit: waiting will not help)."""


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


def _validate(body: dict[str, Any]) -> tuple[str, str, int, str, str]:
    """Validate like OpenAI; returns (model, size, n, quality, response_format)."""
    unknown = sorted(set(body) - KNOWN_FIELDS)
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


def create_app(state: OpenAIState | None = None) -> Starlette:
    """The OpenAI Images emulator; its state (knobs, request log) is ``app.state.emulator``."""
    state = state or OpenAIState(api_key=DEFAULT_API_KEY)

    async def generations(request: Request) -> Response:
        started = time.monotonic()
        raw = await record_request(state, request)
        fault = await apply_faults(state, FAULTS)
        if fault is not None:
            return fault
        token = bearer(request)
        if token is None:
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
                "as the password field (with blank username) if you're accessing the API from "
                "your browser and are prompted for a username and password. You can obtain an "
                "API key from https://platform.openai.com/account/api-keys.",
            )
        if not state.key_ok(token):
            return _error(
                401,
                f"Incorrect API key provided: {_mask(token)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        if state.faults.take("insufficient_quota"):
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                type_="insufficient_quota",
                code="insufficient_quota",
            )
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
            model, size, n, quality, response_format = _validate(body)
        except _Invalid as invalid:
            return invalid.response
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
        data: list[dict[str, Any]] = []
        for index in range(n):
            seed = int.from_bytes(hashlib.sha256(f"{body['prompt']}:{index}".encode()).digest()[:4], "big")
            image = make_image(width, height, seed, fmt)
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
            tokens = max(1, len(body["prompt"]) // 4)
            output = {"low": 272, "medium": 1056, "high": 4160, "auto": 1056}[quality] * n
            payload.update(
                background=body.get("background", "opaque"),
                output_format=fmt.lower(),
                quality="medium" if quality == "auto" else quality,
                size=size,
                usage={
                    "input_tokens": tokens,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": tokens},
                    "output_tokens": output,
                    "total_tokens": tokens + output,
                    "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
                },
            )
        headers = {
            "x-request-id": request_id,
            "openai-processing-ms": str(int((time.monotonic() - started) * 1000)),
            "openai-version": "2020-10-01",
            "openai-organization": "emulator-org",
            "x-ratelimit-limit-requests": "50",
            "x-ratelimit-remaining-requests": "49",
            "x-ratelimit-reset-requests": "1.2s",
        }
        if state.faults.take("malformed"):
            return malformed_json(200, headers)
        return JSONResponse(payload, headers=headers)

    async def unknown(request: Request) -> Response:
        await record_request(state, request)
        return _error(404, f"Invalid URL ({request.method} {request.url.path})")

    app = Starlette(
        routes=[
            Route("/v1/images/generations", generations, methods=["POST"]),
            *control_routes(state),
            Route("/v1/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
    )
    app.state.emulator = state
    return app
