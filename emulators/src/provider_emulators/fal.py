"""Loopback emulator of the fal.ai queue API (``https://queue.fal.run``).

Wire format (providers.md §6): ``POST /{owner}/{alias}[/{subpath}]`` queues a request and answers
with ``request_id`` and the status/result/cancel URLs, which are built from ``owner/alias`` only
(no subpath). ``GET .../requests/{id}/status`` moves ``IN_QUEUE`` → ``IN_PROGRESS`` →
``COMPLETED`` over :attr:`FalState.queue_seconds` and :attr:`FalState.run_seconds`;
``GET .../requests/{id}`` returns the model output (flux shape: ``images[].url``, ``seed``,
``has_nsfw_concepts``); ``PUT .../requests/{id}/cancel`` cancels.

Image-to-image and edit endpoints (a submit path containing ``image-to-image``, ``kontext``,
``redux`` or ``edit``, e.g. ``fal-ai/flux/dev/image-to-image``, ``fal-ai/flux-pro/kontext``) take
``image_url`` (an ``https`` URL or a base64 ``data:`` URI; ``image_urls`` on ``.../multi``),
``strength`` in [0, 1] where the model has it, and answer images the size of the input.

As on fal, the queue accepts any JSON object: the *model* validates its input when it runs, so a
bad input shows up as a FastAPI-style 422 on the result request, not on submit.

Faults (:class:`~provider_emulators._common.Faults`): ``refuse`` refuses the next generations
the way :attr:`FalState.refusal` says: ``"output"`` flags the images (``has_nsfw_concepts: [true]``
and black frames, as fal's safety checker does), ``"input"`` fails the run with fal's typed 422
``content_policy_violation`` model error. ``expire_urls`` makes result file URLs answer 403; the
others apply to every queue request.
"""

from __future__ import annotations

import functools
import io
import json
import time
import uuid
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
    apply_faults,
    control_routes,
    decode_data_uri,
    image_info,
    make_image,
    malformed_json,
    record_request,
)

DEFAULT_API_KEY = "emulator-key-id:emulator-key-secret"
"""The key the emulator accepts by default (fal keys are ``key_id:key_secret``)."""

IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
MAX_SIDE = 14142
"""fal's flux endpoints reject sides above this."""


@dataclass
class FalJob:
    request_id: str
    app: str
    """``owner/alias``: status and result URLs are scoped to it."""
    endpoint: str
    """The full submit path, ``owner/alias[/subpath]``."""
    input: dict[str, Any]
    submitted_at: float
    refused: str | None = None
    """``"output"`` or ``"input"`` when the safety checker refuses this job."""
    cancelled: bool = False


@dataclass
class FalState(EmulatorState):
    """Emulator state plus fal's queue timing."""

    queue_seconds: float = 0.1
    """Time a request spends ``IN_QUEUE``."""
    run_seconds: float = 0.2
    """Time it then spends ``IN_PROGRESS`` before ``COMPLETED``."""
    refusal: str = "output"
    """How a ``refuse`` fault shows: ``"output"`` (NSFW-flagged images) or ``"input"`` (422)."""
    jobs: dict[str, FalJob] = field(default_factory=dict)

    def reset(self) -> None:
        """Healthy again, default timing, no jobs, empty request log."""
        super().reset()
        self.queue_seconds, self.run_seconds, self.refusal = 0.1, 0.2, "output"
        self.jobs.clear()

    def status_of(self, job: FalJob) -> str:
        if job.cancelled:
            return "COMPLETED"
        elapsed = time.monotonic() - job.submitted_at
        if elapsed < self.queue_seconds:
            return "IN_QUEUE"
        if elapsed < self.queue_seconds + self.run_seconds:
            return "IN_PROGRESS"
        return "COMPLETED"


def _detail(message: Any, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status, headers=headers)


_FAULTS = FaultResponses(
    rate_limited=lambda retry_after: _detail(
        "Rate limit exceeded", 429, {"Retry-After": f"{retry_after:g}", "x-fal-error-type": "rate_limited"}
    ),
    server_error=lambda status: _detail("Internal Server Error", status),
)


@functools.lru_cache(maxsize=16)
def _black_frame(width: int, height: int, fmt: str) -> bytes:
    """What fal's safety checker returns in place of a flagged image."""
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))
    return out.getvalue()


IMAGE_INPUT_MARKERS = ("image-to-image", "kontext", "redux", "edit")
"""Submit paths containing one of these are image-input models (``image_url`` required)."""


def takes_image(endpoint: str) -> bool:
    return any(marker in endpoint for marker in IMAGE_INPUT_MARKERS)


def input_size(data: dict[str, Any]) -> tuple[int, int] | None:
    """Size of the first input image when it is a data URI; ``None`` otherwise."""
    urls = data.get("image_urls")
    url = urls[0] if isinstance(urls, list) and urls else data.get("image_url")
    raw = decode_data_uri(url) if isinstance(url, str) else None
    info = image_info(raw) if raw is not None else None
    return (info[1], info[2]) if info is not None else None


def _image_errors(data: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    """Checks of the image-input models: ``image_url`` (or ``image_urls``) and ``strength``."""
    errors: list[dict[str, Any]] = []
    multi = endpoint.endswith("/multi")
    name = "image_urls" if multi else "image_url"
    value = data.get(name)
    urls = value if multi and isinstance(value, list) else [value]
    if value is None:
        return [{"loc": ["body", name], "msg": "field required", "type": "value_error.missing"}]
    for url in urls:
        if not isinstance(url, str) or not (
            url.startswith(("https://", "http://")) or decode_data_uri(url) is not None
        ):
            errors.append({"loc": ["body", name], "msg": "invalid or empty URL", "type": "value_error.url"})
        elif url.startswith("data:") and image_info(decode_data_uri(url) or b"") is None:
            errors.append(
                {
                    "loc": ["body", name],
                    "msg": "Failed to load the image. Please ensure the image file is not corrupted.",
                    "type": "image_load_error",
                }
            )
    strength = data.get("strength")
    if strength is not None and (
        not isinstance(strength, int | float) or isinstance(strength, bool) or not 0 <= strength <= 1
    ):
        errors.append(
            {
                "loc": ["body", "strength"],
                "msg": "ensure this value is between 0 and 1",
                "type": "value_error",
            }
        )
    return errors


def _validation_errors(data: dict[str, Any], endpoint: str = "") -> list[dict[str, Any]]:
    """The flux model's input checks, in FastAPI's 422 ``detail`` list shape."""
    errors: list[dict[str, Any]] = _image_errors(data, endpoint) if takes_image(endpoint) else []

    def err(loc: str, msg: str, type_: str) -> None:
        errors.append({"loc": ["body", loc], "msg": msg, "type": type_})

    prompt = data.get("prompt")
    if prompt is None:
        err("prompt", "field required", "value_error.missing")
    elif not isinstance(prompt, str) or not prompt.strip():
        err("prompt", "Prompt must be a non-empty string", "value_error")
    size = data.get("image_size", "landscape_4_3")
    if isinstance(size, str):
        if size not in IMAGE_SIZE_PRESETS:
            err(
                "image_size",
                f"value is not a valid enumeration member; permitted: {list(IMAGE_SIZE_PRESETS)}",
                "type_error.enum",
            )
    elif isinstance(size, dict):
        for side in ("width", "height"):
            value = size.get(side)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
                err("image_size", f"{side} must be an integer between 1 and {MAX_SIDE}", "value_error")
    else:
        err("image_size", "value is not a valid dict or enumeration member", "type_error")
    n = data.get("num_images", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 4:
        err("num_images", "ensure this value is between 1 and 4", "value_error.number")
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        err("seed", "value is not a valid integer", "type_error.integer")
    fmt = data.get("output_format", "jpeg")
    if fmt not in ("jpeg", "png"):
        err("output_format", "unexpected value; permitted: 'jpeg', 'png'", "value_error.const")
    return errors


def _size(data: dict[str, Any]) -> tuple[int, int]:
    size = data.get("image_size", "landscape_4_3")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    return IMAGE_SIZE_PRESETS[str(size)]


def create_app(state: FalState | None = None) -> Starlette:
    """The emulator app; its :class:`FalState` is ``app.state.emulator``."""
    state = state or FalState(api_key=DEFAULT_API_KEY)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def urls(request: Request, job: FalJob) -> dict[str, str]:
        root = f"{base(request)}/{job.app}/requests/{job.request_id}"
        return {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}

    async def guard(request: Request) -> Response | None:
        """Record, authenticate and apply faults; a response means: answer with it."""
        await record_request(state, request)
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "Key" or not state.key_ok(key.strip()):
            return _detail("Unauthorized", 401)
        return await apply_faults(state, _FAULTS)

    def ok(body: dict[str, Any], status: int = 200) -> Response:
        if state.faults.take("malformed"):
            return malformed_json(status)
        return JSONResponse(body, status, headers={"x-fal-request-id": str(body.get("request_id", ""))})

    def find(request: Request) -> FalJob | None:
        app_id = f"{request.path_params['owner']}/{request.path_params['alias']}"
        job = state.jobs.get(request.path_params["request_id"])
        return job if job is not None and job.app == app_id else None

    async def submit(request: Request) -> Response:
        if (early := await guard(request)) is not None:
            return early
        try:
            data = json.loads(await request.body() or b"null")
        except ValueError:
            return _detail([{"loc": ["body"], "msg": "Invalid JSON", "type": "value_error.jsondecode"}], 422)
        if not isinstance(data, dict):
            return _detail(
                [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}], 422
            )
        owner, alias = request.path_params["owner"], request.path_params["alias"]
        subpath = request.path_params.get("subpath", "")
        job = FalJob(
            request_id=str(uuid.uuid4()),
            app=f"{owner}/{alias}",
            endpoint="/".join(p for p in (owner, alias, subpath) if p),
            input=data,
            submitted_at=time.monotonic(),
            refused=state.refusal if state.faults.take("refuse") else None,
        )
        state.jobs[job.request_id] = job
        return ok(
            {
                "status": "IN_QUEUE",
                "request_id": job.request_id,
                "gateway_request_id": job.request_id,
                "queue_position": 0,
                **urls(request, job),
            }
        )

    async def status(request: Request) -> Response:
        if (early := await guard(request)) is not None:
            return early
        job = find(request)
        if job is None:
            return _detail("Request not found", 404)
        current = state.status_of(job)
        body: dict[str, Any] = {"status": current, "request_id": job.request_id, **urls(request, job)}
        with_logs = request.query_params.get("logs") == "1"
        if current == "IN_QUEUE":
            body["queue_position"] = 0
        elif current == "IN_PROGRESS":
            body["logs"] = (
                [
                    {
                        "message": "Generating",
                        "level": "INFO",
                        "source": "USER",
                        "timestamp": "2026-01-01T00:00:00Z",
                    }
                ]
                if with_logs
                else None
            )
        else:
            errors = _validation_errors(job.input, job.endpoint) or job.refused == "input"
            body.update(
                logs=[] if with_logs else None,
                metrics={"inference_time": state.run_seconds},
                error="Request was cancelled"
                if job.cancelled
                else ("Invalid status code: 422" if errors else None),
                error_type="request_cancelled" if job.cancelled else ("validation_error" if errors else None),
            )
        return ok(body)

    async def result(request: Request) -> Response:
        if (early := await guard(request)) is not None:
            return early
        job = find(request)
        if job is None:
            return _detail("Request not found", 404)
        if job.cancelled:
            return _detail("Request was cancelled", 400)
        if state.status_of(job) != "COMPLETED":
            return _detail("Request is still in progress", 400)
        errors = _validation_errors(job.input, job.endpoint)
        if errors:
            return _detail(errors, 422, {"X-Fal-Retryable": "false"})
        if job.refused == "input":
            refusal = {
                "loc": ["body", "prompt"],
                "msg": "The content was flagged by a content checker.",
                "type": "content_policy_violation",
                "url": "https://docs.fal.ai/errors#content_policy_violation",
                "input": job.input.get("prompt"),
                "categories": ["sexual"],
            }
            return _detail([refusal], 422, {"X-Fal-Retryable": "false"})
        flagged = job.refused == "output"
        width, height = (input_size(job.input) if takes_image(job.endpoint) else None) or _size(job.input)
        n = int(job.input.get("num_images", 1))
        seed = job.input.get("seed")
        if seed is None:  # fal picks a random seed and reports it; derive one so replays are stable
            seed = int(job.request_id.replace("-", "")[:8], 16)
        fmt = "PNG" if job.input.get("output_format") == "png" else "JPEG"
        images = []
        for index in range(n):
            data = (
                _black_frame(width, height, fmt) if flagged else make_image(width, height, seed + index, fmt)
            )
            path = state.add_file(data, MIME[fmt], name=f"{job.request_id}-{index}.{fmt.lower()}")
            images.append(
                {
                    "url": f"{base(request)}{path}",
                    "width": width,
                    "height": height,
                    "content_type": MIME[fmt],
                    "file_name": path.rsplit("/", 1)[-1],
                    "file_size": len(data),
                }
            )
        return ok(
            {
                "images": images,
                "timings": {"inference": state.run_seconds},
                "seed": seed,
                "has_nsfw_concepts": [flagged] * n,
                "prompt": job.input.get("prompt"),
            }
        )

    async def cancel(request: Request) -> Response:
        if (early := await guard(request)) is not None:
            return early
        job = find(request)
        if job is None:
            return _detail("Request not found", 404)
        if state.status_of(job) == "COMPLETED":
            return JSONResponse({"status": "ALREADY_COMPLETED"}, 400)
        job.cancelled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, 202)

    routes = [
        *control_routes(state),
        Route("/{owner}/{alias}/requests/{request_id}/status", status, methods=["GET"]),
        Route("/{owner}/{alias}/requests/{request_id}/cancel", cancel, methods=["PUT"]),
        Route("/{owner}/{alias}/requests/{request_id}", result, methods=["GET"]),
        Route("/{owner}/{alias}", submit, methods=["POST"]),
        Route("/{owner}/{alias}/{subpath:path}", submit, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
