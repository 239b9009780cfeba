"""Loopback emulator of the Freepik (Magnific) image API (``https://api.freepik.com``).

Wire format (providers.md §4):

- ``POST /v1/ai/text-to-image`` — classic fast, synchronous: ``data[].base64`` + ``has_nsfw``;
- ``POST /v1/ai/mystic`` then ``GET /v1/ai/mystic/{task_id}``;
- ``POST /v1/ai/text-to-image/{model}`` then ``GET /v1/ai/text-to-image/{model}/{task_id}`` for the
  async text-to-image models in :data:`TEXT_TO_IMAGE` (``flux-dev``, ``imagen3``).

The tables below (aspect enums, per-endpoint fields and ranges) are written from Freepik's API
reference, not from the orchestrator's adapter.

Async tasks go ``CREATED`` → ``IN_PROGRESS`` → ``COMPLETED`` over :attr:`FreepikState.created_seconds`
and :attr:`FreepikState.run_seconds`, with ``generated`` URLs served by the emulator itself.
The API key travels in a configurable header (:attr:`FreepikState.key_header`, default
``x-freepik-api-key``); errors are ``{"message": ...}`` or problem+json with ``invalid_params``.

Image operations:

- ``POST /v1/ai/image-upscaler`` (Magnific): base64 ``image``, ``scale_factor`` ``2x``-``16x``,
  ``optimized_for``, ``prompt``, ``creativity``/``hdr``/``resemblance``/``fractality`` (-10..10),
  ``engine``; an async task polled at ``GET /v1/ai/image-upscaler/{task-id}``; outputs over
  25.3 million pixels are refused;
- ``POST /v1/ai/beta/remove-background`` (``application/x-www-form-urlencoded`` ``image_url``):
  synchronous, answers ``original``/``high_resolution``/``preview``/``url`` URLs that expire after
  :attr:`FreepikState.result_url_ttl` seconds (5 minutes at Freepik). The emulator reads a
  ``data:`` URI itself and fetches an ``http(s)`` URL (loopback in tests).

``refuse`` fault: classic fast answers ``has_nsfw: true`` with a black frame; async tasks end
``COMPLETED`` with an empty ``generated`` list (NSFW results are filtered; Freepik does not
document a refusal status, this is the emulator's reading of ``filter_nsfw``).
:attr:`FreepikState.fail_tasks` ends the next N async tasks ``FAILED``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import io
import json
import math
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provider_emulators._common import (
    EmulatorState,
    FaultResponses,
    apply_faults,
    control_routes,
    decode_data_uri,
    image_info,
    make_image,
    malformed_json,
    record_request,
)

Handler = Callable[[Request], Awaitable[Response]]

DEFAULT_API_KEY = "FPSX-emulator-key"
DEFAULT_KEY_HEADER = "x-freepik-api-key"

ASPECT_RATIOS = (
    "square_1_1",
    "classic_4_3",
    "traditional_3_4",
    "widescreen_16_9",
    "social_story_9_16",
    "smartphone_horizontal_20_9",
    "smartphone_vertical_9_20",
    "standard_3_2",
    "portrait_2_3",
    "horizontal_2_1",
    "vertical_1_2",
    "social_5_4",
    "social_post_4_5",
)
"""The ``aspect_ratio`` / ``image.size`` enum, in the reference's order (default ``square_1_1``)."""


def ratio_of(aspect: str) -> float:
    """Width / height of an aspect enum value: its name ends in ``_W_H``."""
    *_, width, height = aspect.split("_")
    return int(width) / int(height)


MYSTIC_MODELS = ("realism", "fluid", "zen", "flexible", "super_real", "editorial_portraits")
MYSTIC_ENGINES = ("automatic", "magnific_illusio", "magnific_sharpy", "magnific_sparkle")
RESOLUTION_SCALE = {"1k": 0.5, "2k": 1.0, "4k": 2.0}

# Output sizes where they are known; other aspects are derived from the ratio at the square's
# pixel budget.
_CLASSIC_SIZES = {
    "square_1_1": (1024, 1024),
    "classic_4_3": (1152, 864),
    "traditional_3_4": (864, 1152),
    "widescreen_16_9": (1344, 768),
    "social_story_9_16": (768, 1344),
}
_MYSTIC_2K_SIZES = {
    "square_1_1": (2048, 2048),
    "classic_4_3": (2048, 1536),
    "traditional_3_4": (1536, 2048),
    "widescreen_16_9": (2752, 1536),
    "social_story_9_16": (1536, 2752),
}
_FLUX_DEV_SIZES = {
    "square_1_1": (1024, 1024),
    "classic_4_3": (1152, 896),
    "traditional_3_4": (896, 1152),
    "widescreen_16_9": (1344, 768),
    "social_story_9_16": (768, 1344),
    "standard_3_2": (1216, 832),
    "portrait_2_3": (832, 1216),
}
_IMAGEN3_SIZES = {  # Imagen 3's own output sizes per aspect ratio
    "square_1_1": (1024, 1024),
    "social_story_9_16": (768, 1408),
    "widescreen_16_9": (1408, 768),
    "traditional_3_4": (896, 1280),
    "classic_4_3": (1280, 896),
}


@dataclass(frozen=True, slots=True)
class TextToImageModel:
    """One async ``/v1/ai/text-to-image/{model}`` endpoint's request rules."""

    aspects: tuple[str, ...]
    sizes: dict[str, tuple[int, int]]
    seed: tuple[int, int] | None = None
    """Accepted ``seed`` range; ``None``: the endpoint has no ``seed`` field."""
    max_images: int | None = None
    """Upper bound of ``num_images``; ``None``: one image per task, no ``num_images`` field."""
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()


TEXT_TO_IMAGE: dict[str, TextToImageModel] = {
    "flux-dev": TextToImageModel(
        # Ten of the thirteen: no 20:9, 9:20 or 5:4.
        aspects=tuple(
            a
            for a in ASPECT_RATIOS
            if a not in ("smartphone_horizontal_20_9", "smartphone_vertical_9_20", "social_5_4")
        ),
        sizes=_FLUX_DEV_SIZES,
        seed=(1, 4_294_967_295),
    ),
    "imagen3": TextToImageModel(
        aspects=("square_1_1", "social_story_9_16", "widescreen_16_9", "traditional_3_4", "classic_4_3"),
        sizes=_IMAGEN3_SIZES,
        max_images=4,
        enums=(
            ("person_generation", ("dont_allow", "allow_adult", "allow_all")),
            (
                "safety_settings",
                ("block_low_and_above", "block_medium_and_above", "block_only_high", "block_none"),
            ),
        ),
    ),
}


def output_size(table: dict[str, tuple[int, int]], aspect: str, scale: float = 1.0) -> tuple[int, int]:
    """Pixel size for ``aspect``: the known size, else derived from the square's pixel budget."""
    if aspect in table:
        width, height = table[aspect]
    else:
        side = table["square_1_1"][0]
        ratio = ratio_of(aspect)
        width = int(round(side * ratio**0.5 / 16)) * 16
        height = int(round(side / ratio**0.5 / 16)) * 16
    return int(width * scale), int(height * scale)


@dataclass
class FreepikTask:
    task_id: str
    kind: str
    """``mystic`` or a text-to-image model: tasks are only visible under their own endpoint."""
    width: int
    height: int
    seed: int
    created_at: float
    count: int = 1
    """Images the task produces (``num_images`` where the endpoint has it)."""
    refused: bool = False
    failed: bool = False
    generated: list[str] = field(default_factory=list)


@dataclass
class FreepikState(EmulatorState):
    """Emulator state plus the key header name and async task timing."""

    key_header: str = DEFAULT_KEY_HEADER
    created_seconds: float = 0.05
    """Time a task reports ``CREATED``."""
    run_seconds: float = 0.2
    """Time it then reports ``IN_PROGRESS`` before ``COMPLETED``."""
    fail_tasks: int = 0
    """Next N async tasks end ``FAILED`` (Freepik gives no reason)."""
    result_url_ttl: float = 300.0
    """Seconds remove-background result URLs stay valid (5 minutes at Freepik)."""
    tasks: dict[str, FreepikTask] = field(default_factory=dict)

    def reset(self) -> None:
        """Healthy again, default timing and header, no tasks, empty request log."""
        super().reset()
        self.key_header, self.created_seconds, self.run_seconds = DEFAULT_KEY_HEADER, 0.05, 0.2
        self.result_url_ttl = 300.0
        self.fail_tasks = 0
        self.tasks.clear()

    def take_failure(self) -> bool:
        with self._lock:
            if self.fail_tasks == 0:
                return False
            if self.fail_tasks > 0:
                self.fail_tasks -= 1
            return True

    def status_of(self, task: FreepikTask) -> str:
        elapsed = time.monotonic() - task.created_at
        if elapsed < self.created_seconds:
            return "CREATED"
        if elapsed < self.created_seconds + self.run_seconds:
            return "IN_PROGRESS"
        return "FAILED" if task.failed else "COMPLETED"


def _message(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status, headers=headers)


def _invalid(params: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse(
        {"message": "Your request parameters didn't validate.", "invalid_params": params},
        400,
        media_type="application/problem+json",
    )


UPSCALE_FACTORS = {"2x": 2, "4x": 4, "8x": 8, "16x": 16}
UPSCALE_OPTIMIZED_FOR = (
    "standard",
    "soft_portraits",
    "hard_portraits",
    "art_n_illustration",
    "videogame_assets",
    "nature_n_landscapes",
    "films_n_photography",
    "3d_renders",
    "science_fiction_n_horror",
)
UPSCALE_MAX_PIXELS = 25_300_000
"""The upscaled image can't exceed 25.3 million pixels (Freepik's reference)."""


def _fetch_image_url(url: str) -> bytes | None:
    """The bytes behind ``image_url``: a ``data:`` URI, or an http(s) URL fetched (briefly)."""
    if url.startswith("data:"):
        return decode_data_uri(url)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return None
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http(s) only
            data: bytes = response.read(20 * 1024 * 1024 + 1)
            return data
    except (OSError, ValueError):
        return None


def _cutout(data: bytes) -> bytes:
    """The subject of ``data`` on a transparent background (a centred opaque rectangle)."""
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGBA")
    width, height = image.size
    alpha = Image.new("L", (width, height), 0)
    alpha.paste(
        255,
        (width // 4, height // 4, max(width // 4 + 1, 3 * width // 4), max(height // 4 + 1, 3 * height // 4)),
    )
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


_FAULTS = FaultResponses(
    # Freepik does not document its 429 body; this follows its {"message"} convention.
    rate_limited=lambda retry_after: _message(
        "Rate limit exceeded", 429, {"Retry-After": f"{retry_after:g}"}
    ),
    server_error=lambda status: _message(
        "Service Unavailable. Please try again later." if status == 503 else "Internal Server Error", status
    ),
)


@functools.lru_cache(maxsize=8)
def _black_frame(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "PNG", compress_level=1)
    return out.getvalue()


class _Checks:
    """Collects ``invalid_params`` entries in Freepik's wording."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.errors: list[dict[str, str]] = []

    def fail(self, name: str, reason: str) -> None:
        self.errors.append({"name": name, "reason": reason})

    def string(self, name: str, *, required: bool = False, min_length: int = 0) -> None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, f"Parameter '{name}' is required")
        elif not isinstance(value, str) or len(value) < min_length:
            self.fail(name, f"Parameter '{name}' must be a string of at least {min_length} characters")

    def number(self, name: str, low: float, high: float, *, integer: bool = False) -> None:
        value = self.body.get(name)
        if value is None:
            return
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not low <= value <= high:
            self.fail(name, f"Parameter '{name}' must be between {low:g} and {high:g}")

    def enum(self, name: str, allowed: tuple[str, ...] | list[str], value: Any = None) -> None:
        value = self.body.get(name) if value is None else value
        if value is not None and value not in allowed:
            self.fail(name, f"Parameter '{name}' must be one of: {', '.join(allowed)}")

    def boolean(self, name: str) -> None:
        value = self.body.get(name)
        if value is not None and not isinstance(value, bool):
            self.fail(name, f"Parameter '{name}' must be a boolean")


def create_app(state: FreepikState | None = None) -> Starlette:
    """The emulator app; its :class:`FreepikState` is ``app.state.emulator``."""
    state = state or FreepikState(api_key=DEFAULT_API_KEY)

    async def guard(request: Request) -> tuple[Response | None, dict[str, Any]]:
        """Record, authenticate, apply faults and parse the JSON body."""
        raw = await record_request(state, request)
        presented = request.headers.get(state.key_header)
        if not presented:
            return _message("Missing API key", 401), {}
        if not state.key_ok(presented):
            return _message("Invalid API key", 401), {}
        fault = await apply_faults(state, _FAULTS)
        if fault is not None:
            return fault, {}
        if request.method != "POST":
            return None, {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _message("Parameter 'body' is not valid", 400), {}
        if not isinstance(body, dict):
            return _message("Parameter 'body' is not valid", 400), {}
        return None, body

    def ok(body: dict[str, Any]) -> Response:
        if state.faults.take("malformed"):
            return malformed_json()
        return JSONResponse(body)

    def task_view(request: Request, task: FreepikTask) -> dict[str, Any]:
        status = state.status_of(task)
        if status == "COMPLETED" and not task.generated and not task.refused:
            base = str(request.base_url).rstrip("/")
            for index in range(task.count):
                data = make_image(task.width, task.height, task.seed + index)
                path = state.add_file(data, "image/png", name=f"{task.task_id}-{index}.png")
                task.generated.append(base + path)
        return {
            "generated": task.generated if status == "COMPLETED" else [],
            "task_id": task.task_id,
            "status": status,
        }

    def new_task(kind: str, width: int, height: int, seed: int, count: int = 1) -> FreepikTask:
        task = FreepikTask(
            task_id=str(uuid.uuid4()),
            kind=kind,
            width=width,
            height=height,
            seed=seed,
            created_at=time.monotonic(),
            count=count,
            refused=state.faults.take("refuse"),
            failed=state.take_failure(),
        )
        state.tasks[task.task_id] = task
        return task

    async def classic(request: Request) -> Response:
        early, body = await guard(request)
        if early is not None:
            return early
        checks = _Checks(body)
        checks.string("prompt", required=True, min_length=3)
        checks.string("negative_prompt", min_length=3)
        checks.number("guidance_scale", 0, 2)
        checks.number("num_images", 1, 4, integer=True)
        checks.number("seed", 0, 1_000_000, integer=True)
        checks.boolean("filter_nsfw")
        image = body.get("image") or {}
        if not isinstance(image, dict):
            checks.fail("image", "Parameter 'image' must be an object")
            image = {}
        aspect = image.get("size", "square_1_1")
        checks.enum("image.size", ASPECT_RATIOS, aspect)
        if checks.errors:
            return _invalid(checks.errors)
        width, height = output_size(_CLASSIC_SIZES, aspect)
        n = int(body.get("num_images", 1))
        seed = int(body.get("seed", 42))
        refused = state.faults.take("refuse")
        images = [
            {
                "base64": base64.b64encode(
                    _black_frame(width, height) if refused else make_image(width, height, seed + i)
                ).decode(),
                "has_nsfw": refused,
            }
            for i in range(n)
        ]
        return ok(
            {
                "data": images,
                "meta": {
                    "image": {"size": aspect, "width": width, "height": height},
                    "seed": seed,
                    "guidance_scale": body.get("guidance_scale", 1),
                    "prompt": body["prompt"],
                    "num_inference_steps": 8,
                },
            }
        )

    async def mystic(request: Request) -> Response:
        early, body = await guard(request)
        if early is not None:
            return early
        checks = _Checks(body)
        checks.string("prompt")
        if not any(body.get(k) for k in ("prompt", "structure_reference", "style_reference")):
            checks.fail("prompt", "Parameter 'prompt' is required")
        checks.enum("resolution", list(RESOLUTION_SCALE))
        checks.enum("aspect_ratio", ASPECT_RATIOS)
        checks.enum("model", MYSTIC_MODELS)
        checks.enum("engine", MYSTIC_ENGINES)
        for name in ("structure_strength", "adherence", "hdr", "creative_detailing"):
            checks.number(name, 0, 100, integer=True)
        checks.boolean("fixed_generation")
        checks.boolean("filter_nsfw")
        if checks.errors:
            return _invalid(checks.errors)
        scale = RESOLUTION_SCALE[body.get("resolution", "2k")]
        width, height = output_size(_MYSTIC_2K_SIZES, body.get("aspect_ratio", "square_1_1"), scale)
        task = new_task("mystic", width, height, state.next_id())
        return ok({"data": {"generated": [], "task_id": task.task_id, "status": "CREATED"}})

    async def text_to_image(request: Request) -> Response:
        early, body = await guard(request)
        if early is not None:
            return early
        name = request.path_params["model"]
        model = TEXT_TO_IMAGE.get(name)
        if model is None:
            return _message("Not found", 404)
        checks = _Checks(body)
        checks.string("prompt", required=True)
        checks.enum("aspect_ratio", model.aspects)
        if model.seed is not None:
            checks.number("seed", *model.seed, integer=True)
        elif "seed" in body:
            checks.fail("seed", "Parameter 'seed' is not allowed")
        if model.max_images is not None:
            checks.number("num_images", 1, model.max_images, integer=True)
        elif "num_images" in body:
            checks.fail("num_images", "Parameter 'num_images' is not allowed")
        for field_name, allowed in model.enums:
            checks.enum(field_name, allowed)
        if checks.errors:
            return _invalid(checks.errors)
        width, height = output_size(model.sizes, body.get("aspect_ratio", "square_1_1"))
        seed = int(body.get("seed") or state.next_id())
        task = new_task(name, width, height, seed, int(body.get("num_images", 1)))
        return ok({"data": {"generated": [], "task_id": task.task_id, "status": "CREATED"}})

    async def upscaler(request: Request) -> Response:
        early, body = await guard(request)
        if early is not None:
            return early
        checks = _Checks(body)
        checks.string("image", required=True, min_length=1)
        checks.enum("scale_factor", list(UPSCALE_FACTORS))
        checks.enum("optimized_for", UPSCALE_OPTIMIZED_FOR)
        checks.enum("engine", MYSTIC_ENGINES)
        checks.string("prompt")
        checks.string("webhook_url")
        for name in ("creativity", "hdr", "resemblance", "fractality"):
            checks.number(name, -10, 10, integer=True)
        info = None
        if isinstance(body.get("image"), str):
            try:
                info = image_info(base64.b64decode(body["image"], validate=True))
            except (ValueError, binascii.Error):
                info = None
            if info is None:
                checks.fail("image", "Parameter 'image' must be a base64 encoded image")
        if checks.errors:
            return _invalid(checks.errors)
        assert info is not None
        factor = UPSCALE_FACTORS[body.get("scale_factor", "2x")]
        width, height = info[1] * factor, info[2] * factor
        if width * height > UPSCALE_MAX_PIXELS:
            return _invalid(
                [
                    {
                        "name": "image",
                        "reason": f"The resulted image can't exceed maximum allowed size of 25.3 million "
                        f"pixels ({width}x{height} requested)",
                    }
                ]
            )
        task = new_task("image-upscaler", width, height, state.next_id())
        return ok({"data": {"generated": [], "task_id": task.task_id, "status": "CREATED"}})

    async def remove_background(request: Request) -> Response:
        raw = await record_request(state, request)
        presented = request.headers.get(state.key_header)
        if not presented:
            return _message("Missing API key", 401)
        if not state.key_ok(presented):
            return _message("Invalid API key", 401)
        fault = await apply_faults(state, _FAULTS)
        if fault is not None:
            return fault
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _message("Parameter 'image_url' is required", 400)
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        image_url = (form.get("image_url") or [""])[0]
        if not image_url:
            return _invalid([{"name": "image_url", "reason": "Parameter 'image_url' is required"}])
        data = await asyncio.to_thread(_fetch_image_url, image_url)
        info = image_info(data) if data is not None else None
        if data is None or info is None or info[0] not in ("PNG", "JPEG"):
            return _invalid(
                [
                    {
                        "name": "image_url",
                        "reason": "Parameter 'image_url' must be the URL of a JPG or PNG image",
                    }
                ]
            )
        base = str(request.base_url).rstrip("/")
        result = _cutout(data)
        ttl = state.result_url_ttl
        preview_side = max(1, int(math.sqrt(250_000 / (info[1] * info[2])) * min(info[1], info[2])))
        with Image.open(io.BytesIO(result)) as full:
            preview_image = full.copy()
        preview_image.thumbnail((preview_side, preview_side))
        preview = io.BytesIO()
        preview_image.save(preview, "PNG")
        high = base + state.add_file(result, "image/png", name="high.png", ttl=ttl)
        body = {
            "original": base
            + state.add_file(data, f"image/{info[0].lower()}", name="thumbnail.jpg", ttl=ttl),
            "high_resolution": high,
            "preview": base + state.add_file(preview.getvalue(), "image/png", name="preview.png", ttl=ttl),
            "url": high,
        }
        return ok(body)

    def getter(kind: str | None) -> tuple[Handler, Handler]:
        """GET one task and list tasks of ``kind`` (``None``: the ``{model}`` in the path)."""

        async def get_task(request: Request) -> Response:
            early, _ = await guard(request)
            if early is not None:
                return early
            task = state.tasks.get(request.path_params["task_id"])
            if task is None or task.kind != (kind or request.path_params["model"]):
                return _message("Not found", 404)
            return ok({"data": task_view(request, task)})

        async def list_tasks(request: Request) -> Response:
            early, _ = await guard(request)
            if early is not None:
                return early
            wanted = kind or request.path_params["model"]
            views = [task_view(request, t) for t in state.tasks.values() if t.kind == wanted]
            return ok({"data": views})

        return get_task, list_tasks

    get_mystic, list_mystic = getter("mystic")
    get_model_task, list_model_tasks = getter(None)
    get_upscaler, list_upscaler = getter("image-upscaler")
    routes = [
        *control_routes(state),
        Route("/v1/ai/text-to-image", classic, methods=["POST"]),
        Route("/v1/ai/image-upscaler", upscaler, methods=["POST"]),
        Route("/v1/ai/image-upscaler", list_upscaler, methods=["GET"]),
        Route("/v1/ai/image-upscaler/{task_id}", get_upscaler, methods=["GET"]),
        Route("/v1/ai/beta/remove-background", remove_background, methods=["POST"]),
        Route("/v1/ai/mystic", mystic, methods=["POST"]),
        Route("/v1/ai/mystic", list_mystic, methods=["GET"]),
        Route("/v1/ai/mystic/{task_id}", get_mystic, methods=["GET"]),
        Route("/v1/ai/text-to-image/{model}", text_to_image, methods=["POST"]),
        Route("/v1/ai/text-to-image/{model}", list_model_tasks, methods=["GET"]),
        Route("/v1/ai/text-to-image/{model}/{task_id}", get_model_task, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
