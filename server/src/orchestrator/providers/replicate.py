"""Replicate adapter: predictions API (``providers.md`` §3).

Route models are ``owner/name`` (official models: ``POST /v1/models/{owner}/{name}/predictions``)
or ``owner/name:<version>`` (``POST /v1/predictions`` with ``version``). Creation asks the server
to hold the call (``Prefer: wait=N``, N bounded by our deadline and Replicate's 60 s), so fast
models answer in one round trip; otherwise ``GET /v1/predictions/{id}`` is polled with backoff.
When our deadline passes (or the job is cancelled) the prediction is cancelled upstream so it
stops billing.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import httpx

from orchestrator.providers import _http
from orchestrator.providers.base import (
    ProgressCallback,
    ProviderErrorKind,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.http_adapter import ErrorInfo, HttpAdapter
from orchestrator.settings import ProviderCredentials

ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
"""flux-* aspect ratios on Replicate."""
MAX_PREFER_WAIT = 60
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

    def build_create(self, request: ProviderRequest) -> tuple[str, dict[str, Any]]:
        """``(path, JSON body)`` of the create call."""
        model_input: dict[str, Any] = {
            "prompt": request.prompt,
            "aspect_ratio": _http.nearest_aspect_ratio(request.width, request.height, ASPECT_RATIOS),
        }
        if request.n > 1:  # single-output models (flux-pro) have no num_outputs input at all
            model_input["num_outputs"] = request.n
        if request.seed is not None:
            model_input["seed"] = request.seed
        if request.negative_prompt:
            model_input["negative_prompt"] = request.negative_prompt
        model_input.update(request.params)  # route-native inputs: output_format, go_fast, ...
        model, _, version = request.provider_model.partition(":")
        if version:
            return "/v1/predictions", {"version": request.provider_model, "input": model_input}
        return f"/v1/models/{model}/predictions", {"input": model_input}

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        path, body = self.build_create(request)
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
