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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

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

PROVIDER = "fal"
DISPLAY = "fal.ai"
CREDENTIAL = "ORCHESTRATOR_FAL_KEY"

# Coarse progress milestones: fal's queue reports states, not percentages.
PROGRESS_QUEUED = 0.05
PROGRESS_RUNNING = 0.2
PROGRESS_DONE = 0.9

CANCEL_BUDGET = 5.0
"""Seconds granted to the best-effort cancel sent after our deadline has already passed."""


class FalProvider:
    """Runs one generation through fal's queue and downloads the images it produced."""

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        key: SecretStr,
        base_url: str = "https://queue.fal.run",
        *,
        poll_interval: float = 0.25,
        max_poll_interval: float = 2.0,
        max_poll_errors: int = 5,
    ) -> None:
        self._client = client
        self._key = key
        self._base = base_url.rstrip("/")
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._max_poll_errors = max_poll_errors
        self._background: set[asyncio.Task[None]] = set()

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Submit, poll until ``COMPLETED``, fetch the output and download its images."""
        app_id, endpoint = split_model(request.provider_model)
        progress = _http.monotonic_progress(on_progress)
        submitted = await self._call("POST", f"/{endpoint}", request.deadline, json=build_input(request))
        request_id = submitted.get("request_id") if isinstance(submitted, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise _http.malformed(PROVIDER, DISPLAY, "submit response has no request_id")
        # Built from our configured base rather than the returned status_url: the key is only ever
        # sent to the host the operator configured.
        root = f"/{app_id}/requests/{request_id}"
        await progress(PROGRESS_QUEUED)
        try:
            await self._wait(root, request.deadline, progress)
        except ProviderError as exc:
            if exc.kind is ProviderErrorKind.TIMEOUT:
                await self._cancel(root)
            raise
        except asyncio.CancelledError:
            # Our caller gave up: stop paying for a generation nobody will collect.
            task = asyncio.get_running_loop().create_task(self._cancel(root))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            raise
        await progress(PROGRESS_DONE)
        output = await self._call("GET", root, request.deadline)
        if not isinstance(output, dict):
            raise _http.malformed(PROVIDER, DISPLAY, "result is not a JSON object")
        flags = output.get("has_nsfw_concepts") or []
        if isinstance(flags, list) and any(flag is True for flag in flags):
            # fal replaces flagged images with black frames: there is nothing worth delivering.
            raise ProviderError(
                ProviderErrorKind.CONTENT_POLICY,
                f"{DISPLAY} refused the request: its safety checker flagged "
                f"{sum(1 for f in flags if f is True)} of {len(flags)} images",
                provider=PROVIDER,
                provider_code="nsfw_content",
            )
        urls = _image_urls(output)
        images = await _download_all(self._client, urls, request.deadline)
        seed = output.get("seed")
        return ProviderResult(
            images=images,
            provider_job_id=request_id,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else request.seed,
        )

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner; only wait for pending cancels."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # ------------------------------------------------------------------ internals

    async def _wait(self, root: str, deadline: float | None, progress: ProgressCallback) -> None:
        errors = 0

        async def check() -> bool | None:
            nonlocal errors
            try:
                status = await self._call("GET", f"{root}/status", deadline)
            except ProviderError as exc:
                # The job is already queued (and will be billed): ride out transient errors on the
                # status endpoint instead of abandoning it, within a bound.
                errors += 1
                if exc.kind is not ProviderErrorKind.RETRYABLE or errors > self._max_poll_errors:
                    raise
                await _http.pause_for_retry_after(exc.retry_after, deadline)
                return None
            errors = 0
            state = status.get("status") if isinstance(status, dict) else None
            if state == "COMPLETED":
                return True
            if state == "IN_PROGRESS":
                await progress(PROGRESS_RUNNING)
            elif state != "IN_QUEUE":
                raise _http.malformed(PROVIDER, DISPLAY, f"unknown queue status {state!r}")
            return None

        await _http.poll_until(
            check,
            provider=PROVIDER,
            deadline=deadline,
            interval=self._poll_interval,
            max_interval=self._max_poll_interval,
        )

    async def _cancel(self, root: str) -> None:
        """Best effort: a failed cancel changes nothing for the caller."""
        with contextlib.suppress(ProviderError):
            await self._call("PUT", f"{root}/cancel", time.monotonic() + CANCEL_BUDGET)

    async def _call(self, method: str, path: str, deadline: float | None, *, json: Any = None) -> Any:
        request = self._client.build_request(
            method,
            self._base + path,
            json=json,
            headers={"Authorization": f"Key {self._key.get_secret_value()}", "Accept": "application/json"},
        )
        response = await _http.send(self._client, request, provider=PROVIDER, deadline=deadline)
        if response.status_code >= 400:
            raise self._error(response)
        return _http.json_body(response, provider=PROVIDER, display=DISPLAY)

    def _error(self, response: httpx.Response) -> ProviderError:
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
        return _http.status_error(
            PROVIDER,
            DISPLAY,
            response,
            message,
            code=str(code) if code else None,
            kind=kind,
            credential=CREDENTIAL,
            secret=self._key.get_secret_value(),
        )


def split_model(model: str) -> tuple[str, str]:
    """``"fal-ai/flux/schnell"`` → (app id ``"fal-ai/flux"``, submit path ``"fal-ai/flux/schnell"``)."""
    parts = [p for p in model.strip("/").split("/") if p]
    if len(parts) < 2:
        raise ProviderError(
            ProviderErrorKind.INVALID_REQUEST,
            f"fal model must look like owner/alias[/subpath], got {model!r}",
            provider=PROVIDER,
            provider_code="bad_route",
        )
    return "/".join(parts[:2]), "/".join(parts)


def build_input(request: ProviderRequest) -> dict[str, Any]:
    """The model input JSON for ``request`` (see the module docstring for the mapping)."""
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "image_size": {"width": request.width, "height": request.height},
        "num_images": request.n,
    }
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


def _image_urls(output: dict[str, Any]) -> list[str]:
    images = output.get("images")
    if not isinstance(images, list) or not images:
        raise _http.malformed(PROVIDER, DISPLAY, "result has no images")
    urls: list[str] = []
    for image in images:
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str) or not url:
            raise _http.malformed(PROVIDER, DISPLAY, "result image has no url")
        urls.append(url)
    return urls


# ---------------------------------------------------------------------- small local helpers


async def _download_all(
    client: httpx.AsyncClient, urls: list[str], deadline: float | None
) -> list[ProviderImage]:
    """Download every result URL concurrently; the first failure cancels the rest."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(_http.download_image(client, url, deadline, provider=PROVIDER))
                for url in urls
            ]
    except* ProviderError as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> Provider | None:
    """The fal adapter, or ``None`` when ``ORCHESTRATOR_FAL_KEY`` is unset."""
    if credentials.fal_key is None:
        return None
    return FalProvider(client, credentials.fal_key, credentials.fal_base_url)
