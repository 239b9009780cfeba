"""Freepik (Magnific) adapter: classic fast (synchronous), Mystic and the async text-to-image models.

Route models (providers.md §4):

- ``classic`` → ``POST /v1/ai/text-to-image``: synchronous, images inline as ``data[].base64``;
- ``mystic`` → ``POST /v1/ai/mystic``, polled at ``GET /v1/ai/mystic/{task_id}``;
- anything else (``flux-dev``, ``imagen3``, ``hyperflux``, ``seedream``, …) →
  ``POST /v1/ai/text-to-image/{model}``, polled at ``GET /v1/ai/text-to-image/{model}/{task_id}``.

The key is sent in a configurable header (``ORCHESTRATOR_FREEPIK_API_KEY_HEADER``, default
``x-freepik-api-key``) because the 2026 Magnific rebrand documents ``X-Magnific-API-Key``.

Parameter mapping: ``width``/``height`` → the nearest aspect enum the endpoint accepts
(``image.size`` for classic, ``aspect_ratio`` otherwise); ``n`` → ``num_images`` where the endpoint
has it (classic, imagen3), else ``n`` parallel tasks; ``seed`` → ``seed`` (classic, flux-dev; folded
into the endpoint's range when outside it); ``negative_prompt`` → ``negative_prompt`` (classic
only); route ``params`` on top (Mystic ``resolution`` and ``model`` come from there).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from orchestrator.providers import _http
from orchestrator.providers.base import (
    ProgressCallback,
    Provider,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.settings import ProviderCredentials

PROVIDER = "freepik"
DISPLAY = "Freepik"
CREDENTIAL = "ORCHESTRATOR_FREEPIK_API_KEY"

T = TypeVar("T")

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


class FreepikProvider:
    """Freepik's image endpoints behind the common adapter interface."""

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        key: SecretStr,
        base_url: str = "https://api.freepik.com",
        *,
        key_header: str = "x-freepik-api-key",
        poll_interval: float = 0.5,
        max_poll_interval: float = 3.0,
        max_poll_errors: int = 5,
    ) -> None:
        self._client = client
        self._key = key
        self._base = base_url.rstrip("/")
        self._key_header = key_header
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._max_poll_errors = max_poll_errors

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Run ``request`` on the route's Freepik model."""
        model = request.provider_model.strip("/")
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
            task_id = _task(created).get("task_id")
            if not isinstance(task_id, str) or not task_id:
                raise _http.malformed(PROVIDER, DISPLAY, "task response has no task_id")
            urls = await self._wait(f"{path}/{task_id}", request.deadline, lambda f: tick(index, f))
            return task_id, urls

        results = await _gather([one(i, body) for i, body in enumerate(bodies)])
        urls = [url for _, task_urls in results for url in task_urls]
        images = await _download_all(self._client, urls, request.deadline)
        return ProviderResult(
            images=images,
            provider_job_id=",".join(task_id for task_id, _ in results),
            seed=bodies[0].get("seed"),
        )

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared and closed by its owner."""

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
            raise _http.malformed(PROVIDER, DISPLAY, "response has no data[]")
        flagged = sum(1 for item in data if isinstance(item, dict) and item.get("has_nsfw") is True)
        if flagged:
            # With filter_nsfw (the default) flagged images are blanked: nothing worth delivering.
            raise ProviderError(
                ProviderErrorKind.CONTENT_POLICY,
                f"{DISPLAY} refused the request: {flagged} of {len(data)} images were flagged as NSFW",
                provider=PROVIDER,
                provider_code="nsfw_content",
            )
        images = []
        for item in data:
            payload = item.get("base64") if isinstance(item, dict) else None
            if not isinstance(payload, str):
                raise _http.malformed(PROVIDER, DISPLAY, "data[] item has no base64 image")
            images.append(_http.decode_b64_image(payload, provider=PROVIDER, display=DISPLAY))
        meta = response.get("meta") if isinstance(response.get("meta"), dict) else {}
        seed = meta.get("seed", body.get("seed"))
        return ProviderResult(images=images, seed=seed if isinstance(seed, int) else None)

    async def _wait(
        self, path: str, deadline: float | None, progress: Callable[[float], Awaitable[None]]
    ) -> list[str]:
        errors = 0

        async def check() -> list[str] | None:
            nonlocal errors
            try:
                task = _task(await self._call("GET", path, deadline, polling=True))
            except ProviderError as exc:
                # The task exists and is paid for: ride out transient errors, within a bound.
                errors += 1
                if exc.kind is not ProviderErrorKind.RETRYABLE or errors > self._max_poll_errors:
                    raise
                await _http.pause_for_retry_after(exc.retry_after, deadline)
                return None
            errors = 0
            status = task.get("status")
            if status in ("CREATED", "IN_PROGRESS"):
                await progress(PROGRESS[str(status)])
                return None
            if status == "FAILED":
                # Freepik gives no reason; most failures are transient on their side.
                raise ProviderError(
                    ProviderErrorKind.RETRYABLE,
                    f"{DISPLAY} task {task.get('task_id')} failed",
                    provider=PROVIDER,
                    provider_code="task_failed",
                )
            if status != "COMPLETED":
                raise _http.malformed(PROVIDER, DISPLAY, f"unknown task status {status!r}")
            generated = task.get("generated")
            if not isinstance(generated, list) or not all(isinstance(u, str) and u for u in generated):
                raise _http.malformed(PROVIDER, DISPLAY, "generated is not a list of URLs")
            if not generated:
                # NSFW filtering (always on for standard keys) removes flagged results; a completed
                # task with nothing in it is the only trace a refusal leaves.
                raise ProviderError(
                    ProviderErrorKind.CONTENT_POLICY,
                    f"{DISPLAY} refused the request: the task completed without images (NSFW filter)",
                    provider=PROVIDER,
                    provider_code="nsfw_filtered",
                )
            await progress(PROGRESS["COMPLETED"])
            return [str(u) for u in generated]

        return await _http.poll_until(
            check,
            provider=PROVIDER,
            deadline=deadline,
            interval=self._poll_interval,
            max_interval=self._max_poll_interval,
        )

    async def _call(
        self, method: str, path: str, deadline: float | None, *, json: Any = None, polling: bool = False
    ) -> Any:
        request = self._client.build_request(
            method,
            self._base + path,
            json=json,
            headers={self._key_header: self._key.get_secret_value(), "Accept": "application/json"},
        )
        response = await _http.send(self._client, request, provider=PROVIDER, deadline=deadline)
        if response.status_code >= 400:
            raise self._error(response, polling=polling)
        return _http.json_body(response, provider=PROVIDER, display=DISPLAY)

    def _error(self, response: httpx.Response, *, polling: bool) -> ProviderError:
        body = _http.error_json(response)
        message = str(body.get("message") or response.text[:300])
        invalid = body.get("invalid_params")
        if isinstance(invalid, list) and invalid:
            reasons = "; ".join(
                f"{p.get('name')}: {p.get('reason')}" if isinstance(p, dict) else str(p) for p in invalid
            )
            message = f"{message} ({reasons})"
        kind: ProviderErrorKind | None = None
        if polling and response.status_code == 404:
            # A task we just created is not found: lost on their side; a new one may succeed.
            kind = ProviderErrorKind.RETRYABLE
        return _http.status_error(
            PROVIDER,
            DISPLAY,
            response,
            message,
            kind=kind,
            credential=CREDENTIAL,
            secret=self._key.get_secret_value(),
        )


def _task(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise _http.malformed(PROVIDER, DISPLAY, "task response has no data object")
    return data


# ---------------------------------------------------------------------- small local helpers


async def _gather(coros: Sequence[Awaitable[T]]) -> list[T]:
    """Run ``coros`` concurrently; the first :class:`ProviderError` cancels the rest and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_await(c)) for c in coros]
    except* ProviderError as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def _download_all(
    client: httpx.AsyncClient, urls: list[str], deadline: float | None
) -> list[ProviderImage]:
    return await _gather([_http.download_image(client, url, deadline, provider=PROVIDER) for url in urls])


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> Provider | None:
    """The Freepik adapter, or ``None`` when ``ORCHESTRATOR_FREEPIK_API_KEY`` is unset."""
    if credentials.freepik_api_key is None:
        return None
    return FreepikProvider(
        client,
        credentials.freepik_api_key,
        credentials.freepik_base_url,
        key_header=credentials.freepik_api_key_header,
    )
