"""Replicate adapter: predictions API (``providers.md`` §3).

Route models are ``owner/name`` (official models: ``POST /v1/models/{owner}/{name}/predictions``)
or ``owner/name:<version>`` (``POST /v1/predictions`` with ``version``). Creation asks the server
to hold the call (``Prefer: wait=N``, N bounded by our deadline and Replicate's 60 s), so fast
models answer in one round trip; otherwise ``GET /v1/predictions/{id}`` is polled with backoff.
When our deadline passes (or the job is cancelled) the prediction is cancelled upstream so it
stops billing.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from typing import Any

import httpx

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

NAME = "replicate"
DISPLAY = "Replicate"
CREDENTIAL = "ORCHESTRATOR_REPLICATE_API_TOKEN"

ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
"""flux-* aspect ratios on Replicate."""
MAX_PREFER_WAIT = 60
TERMINAL = frozenset({"succeeded", "failed", "canceled"})

_REFUSAL = re.compile(r"nsfw|\(E005\)|flagged as sensitive|safety (?:checker|filter)", re.IGNORECASE)
_PROGRESS = re.compile(r"(\d{1,3})%\|")
_SEED = re.compile(r"seed[:=]\s*(\d+)", re.IGNORECASE)


class ReplicateProvider:
    """Talks to Replicate through a shared httpx client."""

    name = NAME

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_token: str,
        base_url: str = "https://api.replicate.com",
        poll_interval: float = 0.5,
        max_poll_interval: float = 4.0,
        cancel_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._token = api_token
        self._base_url = base_url.rstrip("/")
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._cancel_timeout = cancel_timeout

    def __repr__(self) -> str:  # never show the token
        return f"ReplicateProvider(base_url={self._base_url!r})"

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def build_create(self, request: ProviderRequest) -> tuple[str, dict[str, Any]]:
        """``(url, JSON body)`` of the create call."""
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
            return f"{self._base_url}/v1/predictions", {
                "version": request.provider_model,
                "input": model_input,
            }
        return f"{self._base_url}/v1/models/{model}/predictions", {"input": model_input}

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        url, body = self.build_create(request)
        headers = dict(self._headers)
        wait = _prefer_wait(request.deadline)
        if wait is not None:
            headers["Prefer"] = f"wait={wait}"
        create = self._client.build_request("POST", url, json=body, headers=headers)
        response = await _http.send(self._client, create, provider=NAME, deadline=request.deadline)
        if response.status_code >= 400:
            raise self._error(response)
        prediction = self._prediction(response)
        prediction_id = str(prediction["id"])
        try:
            if prediction.get("status") not in TERMINAL:
                prediction = await self._wait(prediction, request.deadline, on_progress)
        except ProviderError as exc:
            if exc.kind is ProviderErrorKind.TIMEOUT:
                await self._cancel(prediction_id)
            raise
        except asyncio.CancelledError:
            await self._cancel(prediction_id)  # the job was cancelled: stop paying for it
            raise
        return await self._finish(prediction, request, on_progress)

    async def _wait(
        self, prediction: dict[str, Any], deadline: float | None, on_progress: ProgressCallback
    ) -> dict[str, Any]:
        urls = prediction.get("urls")
        get_url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(get_url, str):
            get_url = f"{self._base_url}/v1/predictions/{prediction['id']}"
        last_progress = -1.0

        async def check() -> dict[str, Any] | None:
            nonlocal last_progress
            poll = self._client.build_request("GET", get_url, headers=self._headers)
            try:
                response = await _http.send(self._client, poll, provider=NAME, deadline=deadline)
                if response.status_code >= 400:
                    raise self._error(response)
                current = self._prediction(response)
            except ProviderError as exc:
                if exc.kind is ProviderErrorKind.RETRYABLE:
                    # A failed *poll* is not a failed prediction: re-creating it would pay twice.
                    return None
                raise
            if current.get("status") in TERMINAL:
                return current
            progress = _progress(current.get("logs"))
            if progress is not None and progress > last_progress:
                last_progress = progress
                await on_progress(progress)
            return None

        return await _http.poll_until(
            check,
            provider=NAME,
            deadline=deadline,
            interval=self._poll_interval,
            max_interval=self._max_poll_interval,
        )

    async def _finish(
        self, prediction: dict[str, Any], request: ProviderRequest, on_progress: ProgressCallback
    ) -> ProviderResult:
        status = prediction.get("status")
        prediction_id = str(prediction["id"])
        if status == "failed":
            error = str(prediction.get("error") or "prediction failed without an error message")
            if _REFUSAL.search(error):
                raise ProviderError(
                    ProviderErrorKind.CONTENT_POLICY,
                    f"{DISPLAY} refused the request: {error}",
                    provider=NAME,
                    provider_code="nsfw" if "nsfw" in error.lower() else "E005",
                )
            # A model crash (OOM, cold-boot failure) is the provider's fault: another try may work.
            raise ProviderError(
                ProviderErrorKind.RETRYABLE,
                f"{DISPLAY} prediction {prediction_id} failed: {error}",
                provider=NAME,
                provider_code="prediction_failed",
            )
        if status == "canceled":
            raise ProviderError(
                ProviderErrorKind.RETRYABLE,
                f"{DISPLAY} prediction {prediction_id} was canceled upstream",
                provider=NAME,
                provider_code="prediction_canceled",
            )
        output = prediction.get("output")
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise _http.malformed(NAME, DISPLAY, "succeeded prediction has no output URLs")
        images: list[ProviderImage] = [
            await _http.download_image(self._client, url, request.deadline, provider=NAME) for url in urls
        ]
        await on_progress(1.0)
        metrics = prediction.get("metrics")
        seed_match = _SEED.search(str(prediction.get("logs") or ""))
        return ProviderResult(
            images=images,
            provider_job_id=prediction_id,
            seed=int(seed_match.group(1)) if seed_match else request.seed,
            usage={"metrics": metrics} if isinstance(metrics, dict) and metrics else None,
        )

    async def _cancel(self, prediction_id: str) -> None:
        """Best-effort ``POST /v1/predictions/{id}/cancel``, with its own short budget (ours is spent)."""
        url = f"{self._base_url}/v1/predictions/{prediction_id}/cancel"
        request = self._client.build_request("POST", url, headers=self._headers)
        # Failures are ignored: nothing more we can do, and Replicate's own timeout stops it eventually.
        with contextlib.suppress(ProviderError, asyncio.CancelledError):
            await asyncio.shield(
                _http.send(
                    self._client, request, provider=NAME, deadline=time.monotonic() + self._cancel_timeout
                )
            )

    def _prediction(self, response: httpx.Response) -> dict[str, Any]:
        body = _http.json_body(response, provider=NAME, display=DISPLAY)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise _http.malformed(NAME, DISPLAY, "prediction has no 'id'")
        return body

    def _error(self, response: httpx.Response) -> ProviderError:
        """Classify a Replicate HTTP error (problem details ``{title, detail, status}``)."""
        body = _http.error_json(response)
        title = body.get("title") if isinstance(body.get("title"), str) else None
        detail = str(body.get("detail") or "").strip()
        message = ": ".join(p for p in (title, detail) if p) or response.text[:300]
        return _http.status_error(
            NAME,
            DISPLAY,
            response,
            message,
            code=title,
            credential=CREDENTIAL,
            secret=self._token,
        )

    async def aclose(self) -> None:
        """Nothing to release: the pooled client belongs to the application."""


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


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> Provider | None:
    """Build the adapter when ``ORCHESTRATOR_REPLICATE_API_TOKEN`` is set."""
    if credentials.replicate_api_token is None:
        return None
    return ReplicateProvider(
        client,
        api_token=credentials.replicate_api_token.get_secret_value(),
        base_url=credentials.replicate_base_url,
    )
