"""fal.ai adapter: the queue API (``https://queue.fal.run``), polled until the result is ready.

Wire format (providers.md §6): ``POST {base}/{owner}/{alias}[/{subpath}]`` with the model input
and ``Authorization: Key <FAL_KEY>`` answers with a ``request_id``; ``GET
{base}/{owner}/{alias}/requests/{id}/status`` reports ``IN_QUEUE`` / ``IN_PROGRESS`` /
``COMPLETED``; ``GET {base}/{owner}/{alias}/requests/{id}`` returns the output, whose
``images[].url`` we download. Status and result URLs never carry the subpath.

Parameter mapping: ``width``/``height`` → ``image_size: {"width", "height"}``, ``n`` →
``num_images``, ``seed`` → ``seed``, ``negative_prompt`` → ``negative_prompt`` (only when set;
flux ignores it and the catalog does not offer it there), then the route's ``params`` (e.g.
``num_inference_steps``, ``output_format``) on top.

``image_to_image`` and ``edit`` run on fal's image-input models (``fal-ai/flux/dev/image-to-image``,
``fal-ai/flux-pro/kontext``, ``fal-ai/flux-pro/kontext/max/multi``…): the input goes in
``image_url`` (``image_urls`` for several images), as the input's own URL when it has one, else
as a base64 ``data:`` URI (fal accepts these wherever it takes a URL); ``strength`` is sent for
``image_to_image`` and a mask as ``mask_url``. No ``image_size``: these models follow the input;
Kontext gets the nearest ``aspect_ratio`` when the requested size has another aspect.
"""

from __future__ import annotations

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

KONTEXT_ASPECTS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
"""``aspect_ratio`` values of fal's FLUX Kontext endpoints."""

# Coarse progress milestones: fal's queue reports states, not percentages.
PROGRESS_QUEUED = 0.05
PROGRESS_RUNNING = 0.2
PROGRESS_DONE = 0.9


class FalProvider(HttpAdapter):
    """Runs one generation through fal's queue and downloads the images it produced."""

    name = "fal"
    display = "fal.ai"
    default_base_url = "https://queue.fal.run"
    auth_scheme = "Key"
    poll_interval = 0.25
    max_poll_interval = 2.0
    operations = frozenset({Operation.GENERATE, Operation.IMAGE_TO_IMAGE, Operation.EDIT})

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Submit, poll until ``COMPLETED``, fetch the output and download its images."""
        self._check_operation(request)
        app_id, endpoint = split_model(request.provider_model)
        progress = _http.monotonic_progress(on_progress)
        submitted = await self._call("POST", f"/{endpoint}", request.deadline, json=build_input(request))
        request_id = submitted.get("request_id") if isinstance(submitted, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise self._malformed("submit response has no request_id")
        # Status and result URLs carry the app id only, never the submit path's subpath.
        root = f"/{app_id}/requests/{request_id}"
        await progress(PROGRESS_QUEUED)
        await self._cancelling_on_abandon(
            self._wait(root, request.deadline, progress),
            lambda deadline: self._call("PUT", f"{root}/cancel", deadline),
        )
        await progress(PROGRESS_DONE)
        output = await self._call("GET", root, request.deadline)
        if not isinstance(output, dict):
            raise self._malformed("result is not a JSON object")
        flags = output.get("has_nsfw_concepts") or []
        if isinstance(flags, list) and any(flag is True for flag in flags):
            # fal replaces flagged images with black frames: there is nothing worth delivering.
            flagged = sum(1 for f in flags if f is True)
            raise self._refused(
                f"its safety checker flagged {flagged} of {len(flags)} images", "nsfw_content"
            )
        images = await self._download_all(self._image_urls(output), request.deadline)
        seed = output.get("seed")
        return ProviderResult(
            images=images,
            provider_job_id=request_id,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else request.seed,
        )

    async def _wait(self, root: str, deadline: float | None, progress: ProgressCallback) -> bool:
        async def step(status: Any) -> bool | None:
            state = status.get("status") if isinstance(status, dict) else None
            if state == "COMPLETED":
                return True
            if state == "IN_PROGRESS":
                await progress(PROGRESS_RUNNING)
            elif state != "IN_QUEUE":
                raise self._malformed(f"unknown queue status {state!r}")
            return None

        return await self._poll(
            lambda: self._call("GET", f"{root}/status", deadline, polling=True), step, deadline
        )

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        """fal answers ``{"detail": "..."}`` or FastAPI's 422 ``{"detail": [{loc, msg, type}]}``."""
        body = _http.error_json(response)
        detail = body.get("detail")
        code = body.get("error_type") or response.headers.get("x-fal-error-type")
        kind: ProviderErrorKind | None = None
        if isinstance(detail, list):
            types = [d.get("type") for d in detail if isinstance(d, dict)]
            if "content_policy_violation" in types:
                kind, code = ProviderErrorKind.CONTENT_POLICY, "content_policy_violation"
            message = "; ".join(_describe(d) for d in detail) or response.reason_phrase
        else:
            message = str(detail) if detail is not None else response.text[:300]
        if kind is None and response.headers.get("x-fal-retryable", "").lower() == "true":
            kind = ProviderErrorKind.RETRYABLE
        return ErrorInfo(message, str(code) if code else None, kind)

    def _image_urls(self, output: dict[str, Any]) -> list[str]:
        images = output.get("images")
        if not isinstance(images, list) or not images:
            raise self._malformed("result has no images")
        urls: list[str] = []
        for image in images:
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url:
                raise self._malformed("result image has no url")
            urls.append(url)
        return urls


def split_model(model: str) -> tuple[str, str]:
    """``"fal-ai/flux/schnell"`` → (app id ``"fal-ai/flux"``, submit path ``"fal-ai/flux/schnell"``)."""
    parts = [p for p in model.strip("/").split("/") if p]
    if len(parts) < 2:
        raise FalProvider._fail(
            ProviderErrorKind.INVALID_REQUEST,
            f"fal model must look like owner/alias[/subpath], got {model!r}",
            "bad_route",
        )
    return "/".join(parts[:2]), "/".join(parts)


def build_input(request: ProviderRequest) -> dict[str, Any]:
    """The model input JSON for ``request`` (see the module docstring for the mapping)."""
    body: dict[str, Any] = {"prompt": request.prompt, "num_images": request.n}
    if request.operation is Operation.GENERATE:
        body["image_size"] = {"width": request.width, "height": request.height}
    else:
        urls = [image.url or FalProvider._data_uri(image) for image in request.images]
        if len(urls) > 1:
            body["image_urls"] = urls
        else:
            body["image_url"] = urls[0]
        if request.operation is Operation.IMAGE_TO_IMAGE and request.strength is not None:
            body["strength"] = request.strength
        if "kontext" in request.provider_model and not _http.follows_input(
            request.width, request.height, request.images[0]
        ):
            # Kontext follows its input unless told an aspect: a requested size of another
            # aspect (or one a fallback brings) becomes the nearest aspect it takes.
            body["aspect_ratio"] = _http.nearest_aspect_ratio(request.width, request.height, KONTEXT_ASPECTS)
        if request.mask is not None:
            body["mask_url"] = request.mask.url or FalProvider._data_uri(request.mask)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    body.update(request.params)
    body["prompt"] = request.prompt  # a route param must never replace the user's prompt
    return body


def _describe(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
    msg = str(item.get("msg", ""))
    return f"{loc}: {msg}" if loc else msg


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> FalProvider | None:
    """The fal adapter, or ``None`` when ``ORCHESTRATOR_FAL_KEY`` is unset."""
    return FalProvider.configured(client, credentials.fal_key, credentials.fal_base_url)
