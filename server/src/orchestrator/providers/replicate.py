"""Replicate adapter: predictions API (``providers.md`` §3).

Route models are ``owner/name`` (official models: ``POST /v1/models/{owner}/{name}/predictions``)
or ``owner/name:<version>`` (``POST /v1/predictions`` with ``version``). Creation asks the server
to hold the call (``Prefer: wait=N``, N bounded by our deadline and Replicate's 60 s), so fast
models answer in one round trip; otherwise ``GET /v1/predictions/{id}`` is polled with backoff.
When our deadline passes (or the job is cancelled) the prediction is cancelled upstream so it
stops billing.

``image_to_image`` and ``edit`` run on image-input models: the input image goes in the model's
file input (``input_image`` for FLUX Kontext, ``image`` otherwise, e.g. flux-dev img2img) and
``strength`` in ``prompt_strength``; a mask goes in ``mask`` (flux-fill). Kontext's
``aspect_ratio`` is ``match_input_image`` unless the requested size has another aspect, which
then gets the nearest of :data:`ASPECT_RATIOS`. A file input is the
image's own URL when it has one, a ``data:`` URI up to :data:`MAX_DATA_URI_BYTES`, and above that a
file uploaded with ``POST /v1/files`` (the ``urls.get`` of the answer), as Replicate's clients do.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import httpx

from orchestrator.providers import _http
from orchestrator.providers.base import (
    Operation,
    ProgressCallback,
    ProviderErrorKind,
    ProviderInput,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.http_adapter import ErrorInfo, HttpAdapter
from orchestrator.settings import ProviderCredentials

ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
"""flux-* aspect ratios on Replicate."""
MAX_PREFER_WAIT = 60
MAX_DATA_URI_BYTES = 256 * 1024
"""Larger inputs are uploaded through the files API rather than inlined as a data URI."""
IMAGE_INPUT_FIELDS: dict[str, str] = {
    "black-forest-labs/flux-kontext-pro": "input_image",
    "black-forest-labs/flux-kontext-max": "input_image",
    "black-forest-labs/flux-kontext-dev": "input_image",
}
"""The file input of image-input models whose field is not the common ``image``."""
MATCH_INPUT = frozenset(IMAGE_INPUT_FIELDS)
"""Models whose ``aspect_ratio`` can follow the input image (``match_input_image``)."""
TERMINAL = frozenset({"succeeded", "failed", "canceled"})

_REFUSAL = re.compile(r"nsfw|\(E005\)|flagged as sensitive|safety (?:checker|filter)", re.IGNORECASE)
_PROGRESS = re.compile(r"(\d{1,3})%\|")
_SEED = re.compile(r"seed[:=]\s*(\d+)", re.IGNORECASE)


class ReplicateProvider(HttpAdapter):
    """Talks to Replicate's predictions API."""

    name = "replicate"
    display = "Replicate"
    default_base_url = "https://api.replicate.com"
    max_poll_interval = 4.0
    operations = frozenset({Operation.GENERATE, Operation.IMAGE_TO_IMAGE, Operation.EDIT})

    def build_create(
        self, request: ProviderRequest, files: dict[int, str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """``(path, JSON body)`` of the create call; ``files`` maps ``id()`` of uploaded inputs to
        their URL."""
        model, _, version = request.provider_model.partition(":")
        model_input: dict[str, Any] = {"prompt": request.prompt}
        if request.operation is Operation.GENERATE:
            model_input["aspect_ratio"] = _http.nearest_aspect_ratio(
                request.width, request.height, ASPECT_RATIOS
            )
        else:
            uploaded = files or {}

            def reference(image: ProviderInput) -> str:
                return uploaded.get(id(image)) or image.url or self._data_uri(image)

            model_input[IMAGE_INPUT_FIELDS.get(model, "image")] = reference(request.images[0])
            if model in MATCH_INPUT:
                # The input's own aspect unless another size was asked for (or this is a
                # fallback from a route that had one): then the nearest aspect Replicate takes.
                model_input["aspect_ratio"] = (
                    "match_input_image"
                    if _http.follows_input(request.width, request.height, request.images[0])
                    else _http.nearest_aspect_ratio(request.width, request.height, ASPECT_RATIOS)
                )
            if request.operation is Operation.IMAGE_TO_IMAGE and request.strength is not None:
                model_input["prompt_strength"] = request.strength
            if request.mask is not None:
                model_input["mask"] = reference(request.mask)
        if request.n > 1:  # single-output models (flux-pro) have no num_outputs input at all
            model_input["num_outputs"] = request.n
        if request.seed is not None:
            model_input["seed"] = request.seed
        if request.negative_prompt:
            model_input["negative_prompt"] = request.negative_prompt
        model_input.update(request.params)  # route-native inputs: output_format, go_fast, ...
        if version:
            return "/v1/predictions", {"version": request.provider_model, "input": model_input}
        return f"/v1/models/{model}/predictions", {"input": model_input}

    async def _upload(self, image: ProviderInput, deadline: float | None) -> str:
        """``POST /v1/files`` and the URL the model reads the file from."""
        response = await self._send(
            "POST",
            "/v1/files",
            deadline,
            files={"content": ("input", image.data, image.content_type)},
            headers={"Accept": "application/json"},
        )
        body = _http.json_body(response, provider=self.name, display=self.display)
        urls = body.get("urls") if isinstance(body, dict) else None
        url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            raise self._malformed("file upload answered no urls.get")
        return url

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self._check_operation(request)
        large = [
            image
            for image in (*request.images[:1], *((request.mask,) if request.mask else ()))
            if image.url is None and len(image.data) > MAX_DATA_URI_BYTES
        ]
        files = {id(image): await self._upload(image, request.deadline) for image in large}
        path, body = self.build_create(request, files)
        wait = _prefer_wait(request.deadline)
        response = await self._send(
            "POST", path, request.deadline, json=body, headers={"Prefer": f"wait={wait}"} if wait else None
        )
        prediction = self._prediction(response)
        if prediction.get("status") not in TERMINAL:
            prediction_url = f"/v1/predictions/{prediction['id']}"
            prediction = await self._cancelling_on_abandon(
                self._wait(prediction_url, request.deadline, _http.monotonic_progress(on_progress)),
                lambda deadline: self._send("POST", f"{prediction_url}/cancel", deadline),
            )
        return await self._finish(prediction, request, on_progress)

    async def _wait(self, url: str, deadline: float | None, progress: ProgressCallback) -> dict[str, Any]:
        async def fetch() -> dict[str, Any]:
            # A failed *poll* is not a failed prediction: re-creating it would pay twice.
            return self._prediction(await self._send("GET", url, deadline, polling=True))

        async def step(current: dict[str, Any]) -> dict[str, Any] | None:
            if current.get("status") in TERMINAL:
                return current
            fraction = _progress(current.get("logs"))
            if fraction is not None:
                await progress(fraction)
            return None

        return await self._poll(fetch, step, deadline)

    async def _finish(
        self, prediction: dict[str, Any], request: ProviderRequest, on_progress: ProgressCallback
    ) -> ProviderResult:
        status = prediction.get("status")
        prediction_id = str(prediction["id"])
        if status == "failed":
            error = str(prediction.get("error") or "prediction failed without an error message")
            if _REFUSAL.search(error):
                raise self._refused(error, "nsfw" if "nsfw" in error.lower() else "E005")
            # A model crash (OOM, cold-boot failure) is the provider's fault: another try may work.
            raise self._fail(
                ProviderErrorKind.RETRYABLE,
                f"{self.display} prediction {prediction_id} failed: {error}",
                "prediction_failed",
            )
        if status == "canceled":
            raise self._fail(
                ProviderErrorKind.RETRYABLE,
                f"{self.display} prediction {prediction_id} was canceled upstream",
                "prediction_canceled",
            )
        output = prediction.get("output")
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise self._malformed("succeeded prediction has no output URLs")
        images = await self._download_all(urls, request.deadline)
        await on_progress(1.0)
        metrics = prediction.get("metrics")
        seed_match = _SEED.search(str(prediction.get("logs") or ""))
        return ProviderResult(
            images=images,
            provider_job_id=prediction_id,
            seed=int(seed_match.group(1)) if seed_match else request.seed,
            usage={"metrics": metrics} if isinstance(metrics, dict) and metrics else None,
        )

    def _prediction(self, response: httpx.Response) -> dict[str, Any]:
        body = _http.json_body(response, provider=self.name, display=self.display)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise self._malformed("prediction has no 'id'")
        return body

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        """Replicate's HTTP errors are problem details ``{title, detail, status}``."""
        body = _http.error_json(response)
        title = body.get("title") if isinstance(body.get("title"), str) else None
        detail = str(body.get("detail") or "").strip()
        return ErrorInfo(": ".join(p for p in (title, detail) if p) or response.text[:300], title)


def _prefer_wait(deadline: float | None) -> int | None:
    """N for ``Prefer: wait=N``: within Replicate's 1..60 and at least a second before our deadline."""
    if deadline is None:
        return MAX_PREFER_WAIT
    left = math.floor(deadline - time.monotonic() - 1.0)
    return min(MAX_PREFER_WAIT, left) if left >= 1 else None


def _progress(logs: Any) -> float | None:
    if not isinstance(logs, str):
        return None
    found = _PROGRESS.findall(logs)
    return min(1.0, int(found[-1]) / 100) if found else None


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> ReplicateProvider | None:
    """Build the adapter when ``ORCHESTRATOR_REPLICATE_API_TOKEN`` is set."""
    return ReplicateProvider.configured(
        client, credentials.replicate_api_token, credentials.replicate_base_url
    )
