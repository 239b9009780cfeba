"""Loopback emulator of Replicate's predictions API (``providers.md`` §3).

- ``POST /v1/models/{owner}/{name}/predictions`` and ``POST /v1/predictions`` (``version``) →
  201 with a prediction object; ``Prefer: wait[=N]`` holds the request until the prediction
  finishes or N (≤ 60) seconds pass;
- ``GET /v1/predictions/{id}``, ``POST /v1/predictions/{id}/cancel``;
- Bearer auth answered with Replicate's own problem-details 401; input validated against the
  model's schema (flux-schnell, flux-dev, flux-pro) → 422 ``Input validation failed`` with
  ``invalid_fields``;
- a prediction moves ``starting`` → ``processing`` → ``succeeded`` over
  :attr:`ReplicateState.start_seconds` + :attr:`ReplicateState.run_seconds`, with tqdm-style
  progress in ``logs``; outputs are real images served by the emulator (``/_files/...``).

Image inputs: ``black-forest-labs/flux-kontext-pro`` (``input_image``, ``aspect_ratio``
``match_input_image``) and ``black-forest-labs/flux-dev`` img2img (``image`` + ``prompt_strength``)
take a file input as an ``https`` URL, a base64 ``data:`` URI, or a file uploaded with
``POST /v1/files`` (multipart ``content``; answers the file object whose ``urls.get`` the model
then reads). Outputs keep the input image's size.

Fault knobs: the common ones; ``refuse`` makes the next predictions end ``failed`` with the
NSFW message flux models give; ``expire_urls`` makes output URLs answer 403.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provider_emulators._common import (
    MIME,
    EmulatorState,
    FaultResponses,
    apply_faults,
    bearer,
    control_routes,
    decode_data_uri,
    image_info,
    make_image,
    malformed_json,
    parse_multipart,
    record_request,
)

DEFAULT_API_KEY = "r8_emulator_replicate"

ASPECT_SIZES = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
MAX_PREDICTIONS = 1000
NSFW_ERROR = "All generated images contained NSFW content. Try running it again with a different prompt."


@dataclass(frozen=True, slots=True)
class Field:
    type: str  # "string" | "integer" | "number" | "boolean" | "enum" | "uri"
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


_COMMON = {
    "prompt": Field("string", required=True),
    "aspect_ratio": Field("enum", choices=tuple(ASPECT_SIZES)),
    "seed": Field("integer"),
    "output_format": Field("enum", choices=("webp", "jpg", "png")),
    "output_quality": Field("integer", minimum=0, maximum=100),
}
MODELS: dict[str, dict[str, Field]] = {
    "black-forest-labs/flux-schnell": {
        **_COMMON,
        "num_outputs": Field("integer", minimum=1, maximum=4),
        "num_inference_steps": Field("integer", minimum=1, maximum=4),
        "disable_safety_checker": Field("boolean"),
        "go_fast": Field("boolean"),
        "megapixels": Field("enum", choices=("1", "0.25")),
    },
    "black-forest-labs/flux-dev": {
        **_COMMON,
        "image": Field("uri"),
        "prompt_strength": Field("number", minimum=0, maximum=1),
        "num_outputs": Field("integer", minimum=1, maximum=4),
        "num_inference_steps": Field("integer", minimum=1, maximum=50),
        "guidance": Field("number", minimum=0, maximum=10),
        "disable_safety_checker": Field("boolean"),
        "go_fast": Field("boolean"),
        "megapixels": Field("enum", choices=("1", "0.25")),
    },
    "black-forest-labs/flux-pro": {
        **_COMMON,
        "steps": Field("integer", minimum=1, maximum=50),
        "guidance": Field("number", minimum=2, maximum=5),
        "safety_tolerance": Field("integer", minimum=1, maximum=6),
        "prompt_upsampling": Field("boolean"),
    },
    "black-forest-labs/flux-kontext-pro": {
        "prompt": Field("string", required=True),
        "input_image": Field("uri"),
        "aspect_ratio": Field("enum", choices=("match_input_image", *ASPECT_SIZES)),
        "output_format": Field("enum", choices=("jpg", "png")),
        "safety_tolerance": Field("integer", minimum=0, maximum=6),
        "prompt_upsampling": Field("boolean"),
        "seed": Field("integer"),
    },
}
"""Input schemas of the official models the emulator serves (flux-pro and Kontext return one URL)."""
SINGLE_OUTPUT = frozenset({"black-forest-labs/flux-pro", "black-forest-labs/flux-kontext-pro"})
IMAGE_INPUTS = ("input_image", "image")
"""File inputs whose image sets the output size."""


@dataclass
class Prediction:
    id: str
    model: str
    input: dict[str, Any]
    created: float
    created_at: str
    fail_with: str | None
    canceled_at: float | None = None
    output: Any = None
    completed: bool = False


@dataclass
class ReplicateState(EmulatorState):
    start_seconds: float = 0.1
    """Time a prediction spends ``starting``."""
    run_seconds: float = 0.4
    """Time it then spends ``processing`` before it ``succeeded``."""
    advertised_base: str | None = None
    """Base URL written into a prediction's ``urls``: Replicate answers with its own
    ``https://api.replicate.com`` even when it was reached through a proxy. ``None``: the base
    URL the request came in on."""
    predictions: dict[str, Prediction] = field(default_factory=dict)
    uploads: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """Files created with ``POST /v1/files``: id -> (bytes, content type)."""

    def reset(self) -> None:
        super().reset()
        self.start_seconds, self.run_seconds, self.advertised_base = 0.1, 0.4, None
        self.predictions.clear()
        self.uploads.clear()

    def input_bytes(self, url: str) -> bytes | None:
        """The bytes a model reads from a file input: a data URI or one of our uploads."""
        if url.startswith("data:"):
            return decode_data_uri(url)
        marker = "/v1/files/"
        if marker in url:
            upload = self.uploads.get(url.split(marker, 1)[1].split("/", 1)[0])
            return upload[0] if upload is not None else None
        return None


def _problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "status": status, **extra}, status, headers=headers
    )


def _rate_limited(retry_after: float) -> Response:
    return JSONResponse(
        {"detail": f"Request was throttled. Your rate limit resets in ~{retry_after:g}s.", "status": 429},
        429,
        headers={"retry-after": f"{retry_after:g}"},
    )


def _server_error(status: int) -> Response:
    return _problem(status, "Internal Server Error", "An unexpected error occurred. Please try again.")


FAULTS = FaultResponses(rate_limited=_rate_limited, server_error=_server_error)


def _validate(schema: dict[str, Field], data: Any) -> list[dict[str, str]]:
    if not isinstance(data, dict):
        return [{"type": "invalid_type", "field": "input", "description": "Invalid type. Expected: object"}]
    invalid: list[dict[str, str]] = []
    for name, spec in schema.items():
        if spec.required and name not in data:
            invalid.append({"type": "required", "field": "input", "description": f"{name} is required"})
    for name, value in data.items():
        spec_or_none = schema.get(name)
        where = f"input.{name}"
        if spec_or_none is None:
            invalid.append(
                {
                    "type": "additional_property_not_allowed",
                    "field": "input",
                    "description": f"Additional property {name} is not allowed",
                }
            )
            continue
        spec = spec_or_none
        if spec.type == "enum":
            if str(value) not in spec.choices or not isinstance(value, str):
                listed = ", ".join(f'"{c}"' for c in spec.choices)
                invalid.append(
                    {
                        "type": "enum",
                        "field": where,
                        "description": f"{where} must be one of the following: {listed}",
                    }
                )
            continue
        expected: Callable[[Any], bool] = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "uri": lambda v: isinstance(v, str) and (v.startswith(("https://", "http://", "data:"))),
        }[spec.type]
        if not expected(value):
            invalid.append(
                {
                    "type": "invalid_type",
                    "field": where,
                    "description": f"Invalid type. Expected: {spec.type}, given: {type(value).__name__}",
                }
            )
            continue
        if spec.maximum is not None and value > spec.maximum:
            invalid.append(
                {
                    "type": "number_lte",
                    "field": where,
                    "description": f"Must be less than or equal to {spec.maximum:g}",
                }
            )
        if spec.minimum is not None and value < spec.minimum:
            invalid.append(
                {
                    "type": "number_gte",
                    "field": where,
                    "description": f"Must be greater than or equal to {spec.minimum:g}",
                }
            )
    return invalid


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_app(state: ReplicateState | None = None) -> Starlette:
    """The Replicate emulator; its state (knobs, predictions, request log) is ``app.state.emulator``."""
    state = state or ReplicateState(api_key=DEFAULT_API_KEY)
    lock = threading.Lock()

    def status_of(prediction: Prediction, now: float) -> str:
        if prediction.canceled_at is not None:
            return "canceled"
        elapsed = now - prediction.created
        if elapsed < state.start_seconds:
            return "starting"
        if elapsed < state.start_seconds + state.run_seconds:
            return "processing"
        return "failed" if prediction.fail_with else "succeeded"

    def render(prediction: Prediction, base_url: str) -> dict[str, Any]:
        now = time.monotonic()
        status = status_of(prediction, now)
        steps = int(prediction.input.get("num_inference_steps", 4))
        seed = prediction.input.get("seed")
        if seed is None:
            seed = int.from_bytes(hashlib.sha256(prediction.id.encode()).digest()[:4], "big")
        logs = f"Using seed: {seed}\n" if status != "starting" else ""
        if status == "processing":
            done = int(
                steps * (now - prediction.created - state.start_seconds) / max(state.run_seconds, 1e-9)
            )
            done = min(done, steps - 1)
            logs += f"{100 * done // steps:3d}%|{'█' * done}{' ' * (steps - done)}| {done}/{steps}\n"
        elif status in ("succeeded", "failed"):
            logs += f"100%|{'█' * steps}| {steps}/{steps}\n"
        if status == "succeeded" and not prediction.completed:
            with lock:
                prediction.output = _outputs(prediction, int(seed), base_url)
                prediction.completed = True
        ended = status in ("succeeded", "failed", "canceled")
        started = prediction.created + state.start_seconds
        finished = (
            prediction.canceled_at
            if prediction.canceled_at is not None
            else prediction.created + state.start_seconds + state.run_seconds
        )
        wall = time.time() - now  # monotonic -> wall clock offset for the timestamps
        url = f"{state.advertised_base or base_url}/v1/predictions/{prediction.id}"
        return {
            "id": prediction.id,
            "model": prediction.model,
            "version": "hidden",
            "input": prediction.input,
            "logs": logs,
            "output": prediction.output if status == "succeeded" else None,
            "data_removed": False,
            "error": prediction.fail_with if status == "failed" else None,
            "status": status,
            "source": "api",
            "created_at": prediction.created_at,
            "started_at": _iso(started + wall) if status != "starting" else None,
            "completed_at": _iso(finished + wall) if ended else None,
            "deadline": None,
            "deployment": None,
            "metrics": {
                "predict_time": round(state.run_seconds, 3),
                "total_time": round(finished - prediction.created, 3),
            }
            if ended
            else {},
            "urls": {
                "get": url,
                "cancel": f"{url}/cancel",
                "web": f"https://replicate.com/p/{prediction.id}",
                "stream": f"{base_url}/v1/stream/{prediction.id}",
            },
        }

    def _outputs(prediction: Prediction, seed: int, base_url: str) -> Any:
        aspect = str(prediction.input.get("aspect_ratio", "1:1"))
        width, height = ASPECT_SIZES.get(aspect, ASPECT_SIZES["1:1"])
        for name in IMAGE_INPUTS:
            source = prediction.input.get(name)
            info = image_info(state.input_bytes(source) or b"") if isinstance(source, str) else None
            if info is not None:
                width, height = info[1], info[2]
                break
        if prediction.input.get("megapixels") == "0.25":
            width, height = width // 2, height // 2
        ext = str(prediction.input.get("output_format", "webp"))
        fmt = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[ext]
        urls = []
        for index in range(int(prediction.input.get("num_outputs", 1))):
            data = make_image(width, height, seed + index, fmt)
            urls.append(base_url + state.add_file(data, MIME[fmt], name=f"out-{index}.{ext}"))
        return urls[0] if prediction.model in SINGLE_OUTPUT else urls

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def respond(payload: dict[str, Any], status: int) -> Response:
        if state.faults.take("malformed"):
            return malformed_json(status)
        return JSONResponse(payload, status)

    async def authed(request: Request) -> Response | None:
        fault = await apply_faults(state, FAULTS)
        if fault is not None:
            return fault
        if not state.key_ok(bearer(request)):
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    async def create(request: Request, model: str) -> Response:
        schema = MODELS.get(model)
        if schema is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        raw = request.state.body
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _problem(400, "Bad request", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _problem(400, "Bad request", "The request body must be a JSON object.")
        invalid = _validate(schema, body.get("input"))
        for name in IMAGE_INPUTS if not invalid else ():
            source = body["input"].get(name)
            if (
                isinstance(source, str)
                and not source.startswith("http")
                and state.input_bytes(source) is None
            ):
                invalid.append(
                    {"type": "format", "field": f"input.{name}", "description": "Does not match format 'uri'"}
                )
            elif isinstance(source, str) and "/v1/files/" in source and state.input_bytes(source) is None:
                invalid.append(
                    {"type": "format", "field": f"input.{name}", "description": "File not found or expired"}
                )
        if invalid:
            detail = "".join(f"- {item['field']}: {item['description']}\n" for item in invalid)
            return _problem(422, "Input validation failed", detail, invalid_fields=invalid)
        number = state.next_id()
        prediction_id = hashlib.sha256(f"prediction:{number}".encode()).hexdigest()[:26]
        fail_with = NSFW_ERROR if state.faults.take("refuse") else None
        now = time.monotonic()
        prediction = Prediction(prediction_id, model, body["input"], now, _iso(time.time()), fail_with)
        with lock:
            state.predictions[prediction_id] = prediction
            while len(state.predictions) > MAX_PREDICTIONS:  # long CLI runs: forget the oldest
                del state.predictions[next(iter(state.predictions))]
        wait = _prefer_wait(request.headers.get("prefer", ""))
        if wait is not None:
            until = now + wait
            # Polled: the prediction's status is a function of time, nothing signals it.
            while (  # noqa: ASYNC110
                status_of(prediction, time.monotonic()) in ("starting", "processing")
                and time.monotonic() < until
                and not state.stopping
            ):
                await asyncio.sleep(0.01)
        return respond(render(prediction, base(request)), 201)

    async def create_for_model(request: Request) -> Response:
        request.state.body = await record_request(state, request)
        denied = await authed(request)
        if denied is not None:
            return denied
        return await create(request, f"{request.path_params['owner']}/{request.path_params['name']}")

    async def create_for_version(request: Request) -> Response:
        request.state.body = await record_request(state, request)
        denied = await authed(request)
        if denied is not None:
            return denied
        try:
            version = json.loads(request.state.body).get("version", "")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return _problem(400, "Bad request", "The request body is not valid JSON.")
        model = str(version).split(":", 1)[0]
        if model not in MODELS:
            return _problem(
                422,
                "Invalid version or not permitted",
                "The specified version does not exist (or perhaps you don't have permission to use it?)",
            )
        return await create(request, model)

    async def get(request: Request) -> Response:
        await record_request(state, request)
        denied = await authed(request)
        if denied is not None:
            return denied
        prediction = state.predictions.get(request.path_params["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        return respond(render(prediction, base(request)), 200)

    async def cancel(request: Request) -> Response:
        await record_request(state, request)
        denied = await authed(request)
        if denied is not None:
            return denied
        prediction = state.predictions.get(request.path_params["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        with lock:
            if status_of(prediction, time.monotonic()) in ("starting", "processing"):
                prediction.canceled_at = time.monotonic()
        return respond(render(prediction, base(request)), 200)

    async def create_file(request: Request) -> Response:
        raw = await record_request(state, request)
        denied = await authed(request)
        if denied is not None:
            return denied
        form = parse_multipart(raw, request.headers.get("content-type", ""))
        content = form.get("content") if form is not None else None
        if not isinstance(content, bytes):
            return _problem(400, "Bad request", "A multipart 'content' file is required.")
        file_id = secrets.token_hex(12)
        info = image_info(content)
        content_type = f"image/{info[0].lower()}" if info is not None else "application/octet-stream"
        state.uploads[file_id] = (content, content_type)
        url = f"{state.advertised_base or base(request)}/v1/files/{file_id}"
        now = time.time()
        return JSONResponse(
            {
                "id": file_id,
                "name": "file",
                "content_type": content_type,
                "size": len(content),
                "etag": hashlib.md5(content).hexdigest(),  # noqa: S324 - an etag, not security
                "checksums": {"sha256": hashlib.sha256(content).hexdigest()},
                "metadata": {},
                "created_at": _iso(now),
                "expires_at": _iso(now + 86400),
                "urls": {"get": url},
            },
            201,
        )

    app = Starlette(
        routes=[
            Route("/v1/files", create_file, methods=["POST"]),
            Route("/v1/models/{owner}/{name}/predictions", create_for_model, methods=["POST"]),
            Route("/v1/predictions", create_for_version, methods=["POST"]),
            Route("/v1/predictions/{id}", get, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", cancel, methods=["POST"]),
            *control_routes(state),
        ]
    )
    app.state.emulator = state
    return app


_WAIT = re.compile(r"(?:^|[,;\s])wait(?:=(\d+))?(?:$|[,;\s])")


def _prefer_wait(prefer: str) -> float | None:
    """Seconds to hold the create call for ``Prefer: wait`` / ``wait=N`` (1..60), else ``None``."""
    match = _WAIT.search(prefer.strip())
    if match is None:
        return None
    return float(min(60, max(1, int(match.group(1))))) if match.group(1) else 60.0
