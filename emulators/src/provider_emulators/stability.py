"""Loopback emulator of Stability AI's v2beta Stable Image generate endpoints.

``POST /v2beta/stable-image/generate/{ultra,core,sd3}`` with ``multipart/form-data``, as in
``providers.md`` §2: parameters are validated *before* auth (400 ``{id, name, errors}`` listing
every problem), then ``authorization: Bearer`` (401 ``unauthorized``); success answers raw image
bytes (``accept: image/*``) with ``finish-reason``/``seed``/``x-request-id`` headers, or JSON
``{image, finish_reason, seed}`` (``accept: application/json``). Output sizes follow the model's
megapixels for the requested ``aspect_ratio``.

Fault knobs (:class:`StabilityFaults`): the common ones, where ``refuse`` answers 403
``content_moderation`` and ``malformed`` sends bytes that are not an image, plus
``content_filtered`` (next N answer 200 with ``finish-reason: CONTENT_FILTERED``, a blurred image).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
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
    parse_multipart,
    record_request,
)

DEFAULT_API_KEY = "sk-emulator-stability"

ASPECT_RATIOS = ("21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21")
SIZES_1MP = {
    "21:9": (1536, 640),
    "16:9": (1344, 768),
    "3:2": (1216, 832),
    "5:4": (1152, 896),
    "1:1": (1024, 1024),
    "4:5": (896, 1152),
    "2:3": (832, 1216),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
STYLE_PRESETS = (
    "enhance",
    "anime",
    "photographic",
    "digital-art",
    "comic-book",
    "fantasy-art",
    "line-art",
    "analog-film",
    "neon-punk",
    "isometric",
    "low-poly",
    "origami",
    "modeling-compound",
    "cinematic",
    "3d-model",
    "pixel-art",
    "tile-texture",
)
SD3_MODELS = (
    "sd3.5-large",
    "sd3.5-large-turbo",
    "sd3.5-medium",
    "sd3.5-flash",
    "sd3-large",
    "sd3-large-turbo",
    "sd3-medium",
)
OUTPUT_FORMATS = {
    "ultra": ("jpeg", "png", "webp"),
    "core": ("png", "jpeg", "webp"),
    "sd3": ("png", "jpeg", "webp"),
}
FIELDS = {
    "ultra": {
        "prompt",
        "negative_prompt",
        "aspect_ratio",
        "seed",
        "output_format",
        "image",
        "strength",
        "style_preset",
    },
    "core": {"prompt", "aspect_ratio", "negative_prompt", "seed", "style_preset", "output_format"},
    "sd3": {
        "prompt",
        "mode",
        "image",
        "strength",
        "aspect_ratio",
        "model",
        "seed",
        "output_format",
        "style_preset",
        "negative_prompt",
        "cfg_scale",
    },
}


@dataclass
class StabilityFaults(Faults):
    content_filtered: int = 0
    """Next N generations succeed with ``finish-reason: CONTENT_FILTERED`` (blurred output)."""


@dataclass
class StabilityState(EmulatorState):
    faults: StabilityFaults = field(default_factory=StabilityFaults)


def _error_id() -> str:
    return secrets.token_hex(16)


def _error(status: int, name: str, *errors: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"id": _error_id(), "name": name, "errors": list(errors)}, status, headers=headers)


def _rate_limited(retry_after: float) -> Response:
    # Stability documents no rate-limit headers; the emulator adds Retry-After so clients that
    # honour it can be tested (real 429s imply a 60 s time-out).
    return _error(
        429,
        "rate_limit_exceeded",
        "You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed "
        "out for 60 seconds.",
        headers={"retry-after": f"{retry_after:g}"},
    )


def _server_error(status: int) -> Response:
    return _error(
        status, "internal_error", "An unexpected server error has occurred, please try again later."
    )


FAULTS = FaultResponses(rate_limited=_rate_limited, server_error=_server_error)


def _validate(endpoint: str, form: dict[str, str | bytes]) -> list[str]:
    """Every validation problem, in Stability's ``field: message`` style."""
    problems: list[str] = []
    for name in sorted(set(form) - FIELDS[endpoint] - {"none"}):
        problems.append(f"{name}: is not allowed")
    prompt = form.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append("prompt: is required")
    elif len(prompt) > 10000:
        problems.append("prompt: must be at most 10000 characters")
    negative = form.get("negative_prompt")
    if isinstance(negative, str) and len(negative) > 10000:
        problems.append("negative_prompt: must be at most 10000 characters")
    aspect = form.get("aspect_ratio")
    if aspect is not None and aspect not in ASPECT_RATIOS:
        problems.append(f"aspect_ratio: must be one of {', '.join(ASPECT_RATIOS)}")
    if aspect is not None and "image" in form:
        problems.append("aspect_ratio: is not allowed when an image is provided")
    output_format = form.get("output_format")
    if output_format is not None and output_format not in OUTPUT_FORMATS[endpoint]:
        problems.append(f"output_format: must be one of {', '.join(OUTPUT_FORMATS[endpoint])}")
    style = form.get("style_preset")
    if style is not None and style not in STYLE_PRESETS:
        problems.append(f"style_preset: must be one of {', '.join(STYLE_PRESETS)}")
    seed = form.get("seed")
    if seed is not None and not (isinstance(seed, str) and seed.isdigit() and int(seed) <= 4294967294):
        problems.append("seed: must be a number between 0 and 4294967294")
    if endpoint == "sd3":
        model = form.get("model")
        if model is not None and model not in SD3_MODELS:
            problems.append(f"model: must be one of {', '.join(SD3_MODELS[:4])}")
        cfg = form.get("cfg_scale")
        if cfg is not None:
            try:
                ok = 1 <= float(cfg) <= 10
            except (TypeError, ValueError):
                ok = False
            if not ok:
                problems.append("cfg_scale: must be a number between 1 and 10")
    if "strength" in form and "image" not in form:
        problems.append("strength: is only allowed with an image")
    return problems


def create_app(state: StabilityState | None = None) -> Starlette:
    """The Stability v2beta emulator; its state (knobs, request log) is ``app.state.emulator``."""
    state = state or StabilityState(api_key=DEFAULT_API_KEY)

    async def generate(request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        body = await record_request(state, request)
        fault = await apply_faults(state, FAULTS)
        if fault is not None:
            return fault
        if endpoint not in FIELDS:
            return _error(404, "not_found", f"endpoint: {endpoint} does not exist")
        form = parse_multipart(body, request.headers.get("content-type", ""))
        if form is None:
            return _error(400, "bad_request", "content-type: must be multipart/form-data")
        problems = _validate(endpoint, form)
        if problems:  # Stability validates parameters before it looks at the key
            return _error(400, "bad_request", *problems)
        accept = request.headers.get("accept", "image/*")
        if accept not in ("image/*", "application/json", "*/*"):
            return _error(400, "bad_request", "accept: must be image/* or application/json")
        if not state.key_ok(bearer(request)):
            return _error(401, "unauthorized", "authorization: invalid or missing api key")
        faults: StabilityFaults = state.faults
        if faults.take("refuse"):
            return _error(
                403,
                "content_moderation",
                "Your request was flagged by our content moderation system, as a result your request was "
                "denied and you were not charged.",
            )
        aspect = str(form.get("aspect_ratio", "1:1"))
        width, height = SIZES_1MP[aspect]
        if endpoint == "core":  # 1.5 MP output
            width, height = width * 3 // 2, height * 3 // 2
        seed_field = form.get("seed", "0")
        seed = int(seed_field) if isinstance(seed_field, str) and seed_field != "0" else None
        if seed is None:  # 0 = random; deterministic here so tests can compare
            seed = (
                int.from_bytes(hashlib.sha256(str(form.get("prompt")).encode()).digest()[:4], "big")
                % 4294967294
            )
        fmt = str(form.get("output_format", "png")).upper()
        finish = "CONTENT_FILTERED" if faults.take("content_filtered") else "SUCCESS"
        image = make_image(width, height, seed, fmt)
        request_id = secrets.token_hex(16)
        if faults.take("malformed"):
            return Response(image[:40], media_type=MIME[fmt], headers={"x-request-id": request_id})
        if accept == "application/json":
            payload: dict[str, Any] = {
                "image": base64.b64encode(image).decode(),
                "finish_reason": finish,
                "seed": seed,
            }
            return JSONResponse(
                payload,
                headers={"x-request-id": request_id},
                media_type=f"application/json; type={MIME[fmt]}",
            )
        return Response(
            image,
            media_type=MIME[fmt],
            headers={"x-request-id": request_id, "finish-reason": finish, "seed": str(seed)},
        )

    app = Starlette(
        routes=[
            Route("/v2beta/stable-image/generate/{endpoint}", generate, methods=["POST"]),
            *control_routes(state),
        ]
    )
    app.state.emulator = state
    return app
