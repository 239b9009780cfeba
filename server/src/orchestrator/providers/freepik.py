"""Freepik (Magnific) adapter: classic fast (synchronous), Mystic and the async text-to-image models.

Route models (providers.md §4):

- ``classic`` → ``POST /v1/ai/text-to-image``: synchronous, images inline as ``data[].base64``;
- ``mystic`` → ``POST /v1/ai/mystic``, polled at ``GET /v1/ai/mystic/{task_id}``;
- anything else (``flux-dev``, ``imagen3``, ``hyperflux``, ``seedream``, …) →
  ``POST /v1/ai/text-to-image/{model}``, polled at ``GET /v1/ai/text-to-image/{model}/{task_id}``.

Image operations:

- ``upscale`` on route model ``image-upscaler`` (Magnific) → ``POST /v1/ai/image-upscaler`` with the
  image in base64 and ``scale_factor`` ``2x``/``4x``/``8x``/``16x``, polled at
  ``GET /v1/ai/image-upscaler/{task_id}``; outputs over 25.3 million pixels are refused before
  the call;
- ``remove_background`` on route model ``remove-background`` → ``POST /v1/ai/beta/remove-background``
  (form field ``image_url``, synchronous). Freepik takes only a URL here and documents no upload
  path: the adapter sends the input's own ``url`` when the caller provides one (a presigned
  storage URL), else a ``data:`` URI (a URI by the reference's ``string<uri>`` type, but not
  confirmed to be accepted live). The answer's URLs expire after 5 minutes, so the result is
  downloaded at once, in the same call.

The key is sent in a configurable header (``ORCHESTRATOR_FREEPIK_API_KEY_HEADER``, default
``x-freepik-api-key``) because the 2026 Magnific rebrand documents ``X-Magnific-API-Key``.

Parameter mapping: ``width``/``height`` → the nearest aspect enum the endpoint accepts
(``image.size`` for classic, ``aspect_ratio`` otherwise); ``n`` → ``num_images`` where the endpoint
has it (classic, imagen3), else ``n`` parallel tasks; ``seed`` → ``seed`` (classic, flux-dev; folded
into the endpoint's range when outside it); ``negative_prompt`` → ``negative_prompt`` (classic
only); route ``params`` on top (Mystic ``resolution`` and ``model`` come from there).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import httpx

from orchestrator.providers import _http
from orchestrator.providers.base import (
    Operation,
    ProgressCallback,
    ProviderErrorKind,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.http_adapter import ErrorInfo, HttpAdapter
from orchestrator.settings import ProviderCredentials

ASPECTS: dict[str, float] = {
    "square_1_1": 1.0,
    "classic_4_3": 4 / 3,
    "traditional_3_4": 3 / 4,
    "widescreen_16_9": 16 / 9,
    "social_story_9_16": 9 / 16,
    "smartphone_horizontal_20_9": 20 / 9,
    "smartphone_vertical_9_20": 9 / 20,
    "standard_3_2": 3 / 2,
    "portrait_2_3": 2 / 3,
    "horizontal_2_1": 2.0,
    "vertical_1_2": 1 / 2,
    "social_5_4": 5 / 4,
    "social_post_4_5": 4 / 5,
}
# Endpoints that accept fewer aspect values than the full enum.
ENDPOINT_ASPECTS: dict[str, tuple[str, ...]] = {
    "flux-dev": (
        "square_1_1",
        "classic_4_3",
        "traditional_3_4",
        "widescreen_16_9",
        "social_story_9_16",
        "standard_3_2",
        "portrait_2_3",
        "horizontal_2_1",
        "vertical_1_2",
        "social_post_4_5",
    ),
    "imagen3": ("square_1_1", "social_story_9_16", "widescreen_16_9", "traditional_3_4", "classic_4_3"),
}
NUM_IMAGES_MODELS = frozenset({"imagen3"})
"""Async models that take ``num_images``; the others produce one image per task."""
SEED_RANGES: dict[str, tuple[int, int]] = {"classic": (0, 1_000_000), "flux-dev": (1, 4_294_967_295)}

UPSCALER = "image-upscaler"
REMOVE_BACKGROUND = "remove-background"
UPSCALE_FACTORS = (2, 4, 8, 16)
UPSCALE_MAX_PIXELS = 25_300_000
"""Magnific refuses an upscaled image over 25.3 million pixels."""

PROGRESS = {"CREATED": 0.05, "IN_PROGRESS": 0.2, "COMPLETED": 0.9}
"""Coarse progress per task status: Freepik reports states, not percentages."""


def nearest_aspect(width: int, height: int, allowed: Sequence[str] | None = None) -> str:
    """The aspect enum value closest to ``width:height`` (compared on a log scale)."""
    target = math.log(width / height)
    names = allowed or list(ASPECTS)
    return min(names, key=lambda name: abs(math.log(ASPECTS[name]) - target))


def fold_seed(seed: int, low: int, high: int) -> int:
    """``seed`` if in ``[low, high]``, else a stable value inside it (same seed, same result)."""
    return seed if low <= seed <= high else low + seed % (high - low + 1)


class FreepikProvider(HttpAdapter):
    """Freepik's image endpoints behind the common adapter interface."""

    name = "freepik"
    display = "Freepik"
    default_base_url = "https://api.freepik.com"
    # The header is configurable: the 2026 Magnific rebrand documents X-Magnific-API-Key.
    auth_header, auth_scheme = "x-freepik-api-key", ""
    operations = frozenset({Operation.GENERATE, Operation.UPSCALE, Operation.REMOVE_BACKGROUND})

    @staticmethod
    def route_operations(model: str) -> frozenset[Operation]:
        """What a route model can do."""
        if model == UPSCALER:
            return frozenset({Operation.UPSCALE})
        if model == REMOVE_BACKGROUND:
            return frozenset({Operation.REMOVE_BACKGROUND})
        return frozenset({Operation.GENERATE})

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Run ``request`` on the route's Freepik model."""
        model = request.provider_model.strip("/")
        self._check_operation(request, self.route_operations(model))
        if model == UPSCALER:
            return await self._upscale(request, on_progress)
        if model == REMOVE_BACKGROUND:
            return await self._remove_background(request)
        if model == "classic":
            return await self._classic(request)
        path = "/v1/ai/mystic" if model == "mystic" else f"/v1/ai/text-to-image/{model}"
        if model in NUM_IMAGES_MODELS:
            bodies = [self._async_body(model, request, None)]
        else:
            bodies = [self._async_body(model, request, i) for i in range(request.n)]
        fractions = [0.0] * len(bodies)
        progress = _http.monotonic_progress(on_progress)

        async def tick(index: int, fraction: float) -> None:
            fractions[index] = fraction
            await progress(sum(fractions) / len(fractions))

        async def one(index: int, body: dict[str, Any]) -> tuple[str, list[str]]:
            created = await self._call("POST", path, request.deadline, json=body)
            task = self._task(created)
            task_id = task.get("task_id")
            if not isinstance(task_id, str) or not task_id:
                raise self._malformed("task response has no task_id")
            # The creation answer already says where the task stands: report it before the first poll.
            if task.get("status") in PROGRESS:
                await tick(index, PROGRESS[str(task["status"])])
            urls = await self._wait(f"{path}/{task_id}", request.deadline, lambda f: tick(index, f))
            return task_id, urls

        results = await self._gather([one(i, body) for i, body in enumerate(bodies)])
        urls = [url for _, task_urls in results for url in task_urls]
        images = await self._download_all(urls, request.deadline)
        return ProviderResult(
            images=images,
            provider_job_id=",".join(task_id for task_id, _ in results),
            seed=bodies[0].get("seed"),
        )

    # ------------------------------------------------------------------ request bodies

    def _classic_body(self, request: ProviderRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "num_images": request.n,
            "image": {"size": nearest_aspect(request.width, request.height)},
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            body["seed"] = fold_seed(request.seed, *SEED_RANGES["classic"])
        body.update(request.params)
        body["prompt"] = request.prompt
        return body

    def _async_body(self, model: str, request: ProviderRequest, index: int | None) -> dict[str, Any]:
        allowed = ENDPOINT_ASPECTS.get(model)
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "aspect_ratio": nearest_aspect(request.width, request.height, allowed),
        }
        if index is None:
            body["num_images"] = request.n
        if request.seed is not None and model in SEED_RANGES:
            # Parallel tasks get consecutive seeds: equal seeds would give n identical images.
            body["seed"] = fold_seed(request.seed + (index or 0), *SEED_RANGES[model])
        body.update(request.params)
        body["prompt"] = request.prompt
        return body

    # ------------------------------------------------------------------ flows

    async def _classic(self, request: ProviderRequest) -> ProviderResult:
        body = self._classic_body(request)
        response = await self._call("POST", "/v1/ai/text-to-image", request.deadline, json=body)
        data = response.get("data") if isinstance(response, dict) else None
        if not isinstance(data, list) or not data:
            raise self._malformed("response has no data[]")
        flagged = sum(1 for item in data if isinstance(item, dict) and item.get("has_nsfw") is True)
        if flagged:
            # With filter_nsfw (the default) flagged images are blanked: nothing worth delivering.
            raise self._refused(f"{flagged} of {len(data)} images were flagged as NSFW", "nsfw_content")
        images = []
        for item in data:
            payload = item.get("base64") if isinstance(item, dict) else None
            if not isinstance(payload, str):
                raise self._malformed("data[] item has no base64 image")
            images.append(self._decode_b64(payload))
        meta = response.get("meta") if isinstance(response.get("meta"), dict) else {}
        seed = meta.get("seed", body.get("seed"))
        return ProviderResult(images=images, seed=seed if isinstance(seed, int) else None)

    async def _upscale(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        image = request.images[0]
        scale = request.scale or 2
        if scale not in UPSCALE_FACTORS:
            raise self._fail(
                ProviderErrorKind.INVALID_REQUEST,
                f"Freepik's upscaler enlarges 2x, 4x, 8x or 16x, not {scale}x",
                "unsupported_scale",
            )
        if image.width * image.height * scale * scale > UPSCALE_MAX_PIXELS:
            raise self._fail(
                ProviderErrorKind.INVALID_REQUEST,
                f"{image.width}x{image.height} upscaled {scale}x exceeds Freepik's 25.3 million pixels",
                "output_too_large",
            )
        body: dict[str, Any] = {"image": base64.b64encode(image.data).decode(), "scale_factor": f"{scale}x"}
        if request.prompt:
            body["prompt"] = request.prompt
        body.update(request.params)  # optimized_for, creativity, hdr, resemblance, fractality, engine
        path = f"/v1/ai/{UPSCALER}"
        created = await self._call("POST", path, request.deadline, json=body)
        task_id = self._task(created).get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise self._malformed("task response has no task_id")
        urls = await self._wait(f"{path}/{task_id}", request.deadline, _http.monotonic_progress(on_progress))
        images = await self._download_all(urls, request.deadline)
        return ProviderResult(images=images, provider_job_id=task_id)

    async def _remove_background(self, request: ProviderRequest) -> ProviderResult:
        image = request.images[0]
        image_url = image.url or self._data_uri(image)
        response = await self._send(
            "POST",
            "/v1/ai/beta/remove-background",
            request.deadline,
            data={"image_url": image_url},
            headers={"Accept": "application/json"},
        )
        body = _http.json_body(response, provider=self.name, display=self.display)
        url = None
        if isinstance(body, dict):
            url = next((body[k] for k in ("high_resolution", "url") if isinstance(body.get(k), str)), None)
        if not url:
            raise self._malformed("remove-background answered no high_resolution or url")
        # The URLs expire after 5 minutes: the image is fetched now, never handed on as a URL.
        images = await self._download_all([url], request.deadline)
        return ProviderResult(images=images)

    async def _wait(self, path: str, deadline: float | None, progress: ProgressCallback) -> list[str]:
        async def step(body: Any) -> list[str] | None:
            task = self._task(body)
            status = task.get("status")
            if status in ("CREATED", "IN_PROGRESS"):
                await progress(PROGRESS[str(status)])
                return None
            if status == "FAILED":
                # Freepik gives no reason; most failures are transient on their side.
                raise self._fail(
                    ProviderErrorKind.RETRYABLE,
                    f"{self.display} task {task.get('task_id')} failed",
                    "task_failed",
                )
            if status != "COMPLETED":
                raise self._malformed(f"unknown task status {status!r}")
            generated = task.get("generated")
            if not isinstance(generated, list) or not all(isinstance(u, str) and u for u in generated):
                raise self._malformed("generated is not a list of URLs")
            if not generated:
                # NSFW filtering (always on for standard keys) removes flagged results; a completed
                # task with nothing in it is the only trace a refusal leaves.
                raise self._refused("the task completed without images (NSFW filter)", "nsfw_filtered")
            await progress(PROGRESS["COMPLETED"])
            return [str(u) for u in generated]

        return await self._poll(lambda: self._call("GET", path, deadline, polling=True), step, deadline)

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        """Freepik answers ``{"message"}``, or problem+json with ``invalid_params``."""
        body = _http.error_json(response)
        message = str(body.get("message") or response.text[:300])
        invalid = body.get("invalid_params")
        if isinstance(invalid, list) and invalid:
            reasons = "; ".join(
                f"{p.get('name')}: {p.get('reason')}" if isinstance(p, dict) else str(p) for p in invalid
            )
            message = f"{message} ({reasons})"
        return ErrorInfo(message)

    def _task(self, body: Any) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(body, dict) and data is None and "task_id" in body:
            # Some reference examples show the task unwrapped, with ``task_status`` for ``status``.
            data = {**body, "status": body.get("status", body.get("task_status"))}
        if not isinstance(data, dict):
            raise self._malformed("task response has no data object")
        return data


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> FreepikProvider | None:
    """The Freepik adapter, or ``None`` when ``ORCHESTRATOR_FREEPIK_API_KEY`` is unset."""
    return FreepikProvider.configured(
        client,
        credentials.freepik_api_key,
        credentials.freepik_base_url,
        auth_header=credentials.freepik_api_key_header,
    )
