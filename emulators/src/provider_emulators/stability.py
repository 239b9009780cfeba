"""Loopback emulator of Stability AI's v2beta Stable Image generate, edit and upscale endpoints.

Besides ``generate/*`` it serves ``edit/{inpaint,outpaint,search-and-replace,remove-background}``
and ``upscale/{fast,conservative}`` synchronously, and ``upscale/creative`` asynchronously:
``POST`` answers ``{"id"}``, ``GET /v2beta/results/{id}`` answers 202
``{"id", "status": "in-progress"}`` for :attr:`StabilityState.result_seconds`, then the image
(404 ``generation_not_found`` for an unknown id). Input images must be jpeg, png or webp.

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
import io
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
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
    image_info,
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


def _image_response(
    image: bytes, content_type: str, seed: int, accept: str, faults: StabilityFaults
) -> Response:
    """A finished image as Stability answers it: bytes with headers, or JSON by ``accept``."""
    finish = "CONTENT_FILTERED" if faults.take("content_filtered") else "SUCCESS"
    request_id = secrets.token_hex(16)
    if faults.take("malformed"):
        return Response(image[:40], media_type=content_type, headers={"x-request-id": request_id})
    if accept == "application/json":
        return JSONResponse(
            {"image": base64.b64encode(image).decode(), "finish_reason": finish, "seed": seed},
            headers={"x-request-id": request_id},
            media_type=f"application/json; type={content_type}",
        )
    return Response(
        image,
        media_type=content_type,
        headers={"x-request-id": request_id, "finish-reason": finish, "seed": str(seed)},
    )


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


EDIT_FIELDS: dict[str, set[str]] = {
    "edit/inpaint": {
        "image", "prompt", "mask", "negative_prompt", "grow_mask", "seed", "output_format", "style_preset"
    },
    "edit/outpaint": {
        "image", "left", "right", "up", "down", "creativity", "prompt", "seed", "output_format",
        "style_preset",
    },
    "edit/search-and-replace": {
        "image", "prompt", "search_prompt", "negative_prompt", "grow_mask", "seed", "output_format",
        "style_preset",
    },
    "edit/remove-background": {"image", "output_format"},
    "upscale/fast": {"image", "output_format"},
    "upscale/conservative": {"image", "prompt", "negative_prompt", "seed", "creativity", "output_format"},
    "upscale/creative": {
        "image", "prompt", "negative_prompt", "seed", "creativity", "output_format", "style_preset"
    },
}  # fmt: skip
"""Form fields of each edit/upscale endpoint, from Stability's v2beta reference."""
EDIT_REQUIRED: dict[str, tuple[str, ...]] = {
    "edit/inpaint": ("image", "prompt"),
    "edit/outpaint": ("image",),
    "edit/search-and-replace": ("image", "prompt", "search_prompt"),
    "edit/remove-background": ("image",),
    "upscale/fast": ("image",),
    "upscale/conservative": ("image", "prompt"),
    "upscale/creative": ("image", "prompt"),
}
CREATIVITY = {"edit/outpaint": (0.0, 1.0), "upscale/conservative": (0.2, 0.5), "upscale/creative": (0.1, 0.5)}
UPSCALE_TARGET_PIXELS = 4 * 1024 * 1024
"""Conservative and creative upscales aim at about 4 megapixels."""


@dataclass
class Pending:
    """An asynchronous result: its image, ready after ``ready_at``."""

    image: bytes
    content_type: str
    seed: int
    ready_at: float


@dataclass
class StabilityState(EmulatorState):
    faults: StabilityFaults = field(default_factory=StabilityFaults)
    result_seconds: float = 0.2
    """Time an asynchronous result (upscale/creative) stays ``in-progress``."""
    expire_results: bool = False
    """Polls answer 404 ``generation_not_found``, as for a result past its 24 h retention."""
    results: dict[str, Pending] = field(default_factory=dict)

    def reset(self) -> None:
        super().reset()
        self.result_seconds, self.expire_results = 0.2, False
        self.results.clear()


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


def _validate_edit(endpoint: str, form: dict[str, str | bytes]) -> list[str]:
    """Problems with an edit/upscale form, in Stability's ``field: message`` style."""
    problems = [f"{name}: is not allowed" for name in sorted(set(form) - EDIT_FIELDS[endpoint])]
    for name in EDIT_REQUIRED[endpoint]:
        if name not in form or (isinstance(form[name], str) and not str(form[name]).strip()):
            problems.append(f"{name}: is required")
    image = form.get("image")
    info = image_info(image) if isinstance(image, bytes) else None
    if image is not None and (info is None or info[0] not in ("PNG", "JPEG", "WEBP")):
        problems.append("image: must be a jpeg, png or webp image")
    allowed = ("png", "webp") if endpoint == "edit/remove-background" else ("jpeg", "png", "webp")
    if form.get("output_format", "png") not in allowed:
        problems.append(f"output_format: must be one of {', '.join(allowed)}")
    if endpoint in CREATIVITY and "creativity" in form:
        low, high = CREATIVITY[endpoint]
        try:
            ok = low <= float(str(form["creativity"])) <= high
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"creativity: must be a number between {low:g} and {high:g}")
    if endpoint == "edit/outpaint":
        margins = []
        for side in ("left", "right", "up", "down"):
            value = str(form.get(side, "0"))
            if not value.isdigit() or int(value) > 2000:
                problems.append(f"{side}: must be an integer between 0 and 2000")
            else:
                margins.append(int(value))
        if margins and not any(margins):
            problems.append("left, right, up, down: at least one must be greater than 0")
    if info is not None:
        width, height = info[1], info[2]
        if endpoint == "upscale/fast" and not (
            32 <= width <= 1536 and 32 <= height <= 1536 and 1024 <= width * height <= 1_048_576
        ):
            problems.append("image: must be 32 to 1536 pixels per side and 1024 to 1048576 pixels in total")
        elif endpoint == "upscale/creative" and not (
            min(width, height) >= 64 and width * height <= 1_048_576
        ):
            problems.append("image: must be at least 64 pixels per side and at most 1048576 pixels in total")
        elif width < 64 or height < 64:
            problems.append("image: must be at least 64 pixels per side")
        mask = form.get("mask")
        if isinstance(mask, bytes):
            mask_info = image_info(mask)
            if mask_info is None:
                problems.append("mask: must be an image")
            elif (mask_info[1], mask_info[2]) != (width, height):
                problems.append("mask: must have the same dimensions as image")
    return problems


def _edit_output_size(endpoint: str, form: dict[str, str | bytes]) -> tuple[int, int]:
    info = image_info(form["image"]) if isinstance(form["image"], bytes) else None
    assert info is not None
    width, height = info[1], info[2]
    if endpoint == "edit/outpaint":
        side = {name: int(str(form.get(name, "0"))) for name in ("left", "right", "up", "down")}
        return width + side["left"] + side["right"], height + side["up"] + side["down"]
    if endpoint == "upscale/fast":
        return width * 4, height * 4
    if endpoint in ("upscale/conservative", "upscale/creative"):
        factor = math.sqrt(UPSCALE_TARGET_PIXELS / (width * height))
        return max(width, round(width * factor)), max(height, round(height * factor))
    return width, height


def _transparent_cutout(width: int, height: int, seed: int, fmt: str) -> bytes:
    """A subject on a transparent background, as remove-background answers."""
    with Image.open(io.BytesIO(make_image(width, height, seed))) as source:
        image = source.convert("RGBA")
    alpha = Image.new("L", (width, height), 0)
    alpha.paste(
        255,
        (width // 4, height // 4, max(width // 4 + 1, 3 * width // 4), max(height // 4 + 1, 3 * height // 4)),
    )
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, fmt, **({"compress_level": 1} if fmt == "PNG" else {"lossless": True}))
    return out.getvalue()


Form = dict[str, str | bytes]


def create_app(state: StabilityState | None = None) -> Starlette:
    """The Stability v2beta emulator; its state (knobs, request log) is ``app.state.emulator``."""
    state = state or StabilityState(api_key=DEFAULT_API_KEY)

    async def admit(
        request: Request, endpoint: str, known: Mapping[str, Any], validate: Callable[[str, Form], list[str]]
    ) -> Response | tuple[Form, str]:
        """The checks every POST passes, in Stability's order: the endpoint, the form, its
        parameters, then the key and moderation. The form and the ``accept`` asked for, or the
        error answer."""
        body = await record_request(state, request)
        fault = await apply_faults(state, FAULTS)
        if fault is not None:
            return fault
        if endpoint not in known:
            return _error(404, "not_found", f"endpoint: {endpoint} does not exist")
        form = parse_multipart(body, request.headers.get("content-type", ""))
        if form is None:
            return _error(400, "bad_request", "content-type: must be multipart/form-data")
        problems = validate(endpoint, form)
        if problems:  # Stability validates parameters before it looks at the key
            return _error(400, "bad_request", *problems)
        accept = request.headers.get("accept", "image/*")
        if accept not in ("image/*", "application/json", "*/*"):
            return _error(400, "bad_request", "accept: must be image/* or application/json")
        if not state.key_ok(bearer(request)):
            return _error(401, "unauthorized", "authorization: invalid or missing api key")
        if state.faults.take("refuse"):
            return _error(
                403,
                "content_moderation",
                "Your request was flagged by our content moderation system, as a result your request was "
                "denied and you were not charged.",
            )
        return form, accept

    async def generate(request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        admitted = await admit(request, endpoint, FIELDS, _validate)
        if isinstance(admitted, Response):
            return admitted
        form, accept = admitted
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
        return _image_response(make_image(width, height, seed, fmt), MIME[fmt], seed, accept, state.faults)

    async def edit(request: Request) -> Response:
        endpoint = f"{request.path_params['group']}/{request.path_params['endpoint']}"
        admitted = await admit(request, endpoint, EDIT_FIELDS, _validate_edit)
        if isinstance(admitted, Response):
            return admitted
        form, accept = admitted
        width, height = _edit_output_size(endpoint, form)
        seed_field = str(form.get("seed", "0"))
        image_bytes = form["image"] if isinstance(form["image"], bytes) else b""
        seed = (
            int(seed_field)
            if seed_field.isdigit() and seed_field != "0"
            else (
                int.from_bytes(hashlib.sha256(image_bytes + endpoint.encode()).digest()[:4], "big")
                % 4294967294
            )
        )
        fmt = str(form.get("output_format", "png")).upper()
        if endpoint == "edit/remove-background":
            image = _transparent_cutout(width, height, seed, fmt)
        else:
            image = make_image(width, height, seed, fmt)
        if endpoint == "upscale/creative":
            result_id = secrets.token_hex(32)
            state.results[result_id] = Pending(
                image, MIME[fmt], seed, time.monotonic() + state.result_seconds
            )
            return JSONResponse({"id": result_id})
        return _image_response(image, MIME[fmt], seed, accept, state.faults)

    async def result(request: Request) -> Response:
        await record_request(state, request)
        fault = await apply_faults(state, FAULTS)
        if fault is not None:
            return fault
        if not state.key_ok(bearer(request)):
            return _error(401, "unauthorized", "authorization: invalid or missing api key")
        result_id = request.path_params["id"]
        pending = None if state.expire_results else state.results.get(result_id)
        if pending is None:
            return _error(
                404, "generation_not_found", "id: the generation either does not exist or has expired."
            )
        if time.monotonic() < pending.ready_at:
            return JSONResponse({"id": result_id, "status": "in-progress"}, 202)
        accept = request.headers.get("accept", "*/*")
        return _image_response(pending.image, pending.content_type, pending.seed, accept, state.faults)

    app = Starlette(
        routes=[
            Route("/v2beta/stable-image/generate/{endpoint}", generate, methods=["POST"]),
            Route("/v2beta/stable-image/{group:str}/{endpoint:str}", edit, methods=["POST"]),
            Route("/v2beta/results/{id}", result, methods=["GET"]),
            *control_routes(state),
        ]
    )
    app.state.emulator = state
    return app
