"""Midjourney adapter for a self-hosted ``novicezk/midjourney-proxy`` (Midjourney has no API).

``ORCHESTRATOR_MIDJOURNEY_BASE_URL`` is the proxy's root **without** the ``/mj`` context path,
e.g. ``http://mj-proxy:8080``; the adapter adds ``/mj`` (a configured URL that already ends in
``/mj`` is accepted too). ``ORCHESTRATOR_MIDJOURNEY_API_SECRET``, when set, is sent as the
``mj-api-secret`` header.

Flow (providers.md §5): ``POST /mj/submit/imagine {"prompt"}`` answers HTTP 200 whatever happens,
with a ``code``; the task is polled at ``GET /mj/task/{id}/fetch`` until ``SUCCESS`` (``imageUrl``)
or ``FAILURE`` (``failReason``); ``progress`` (``"45%"``) is reported through ``on_progress``.

Parameter mapping — everything travels in the prompt, as Midjourney reads it:
``negative_prompt`` → `` --no …``, ``width``/``height`` → `` --ar W:H`` (reduced, or the nearest
common ratio), ``seed`` → `` --seed N``, and each route param → `` --name value`` (``true`` → a
bare `` --name``), e.g. ``{"v": 7}`` → `` --v 7``.

The result is the IMAGINE **2×2 grid** (four candidates in one image, twice the tile size per
side), downloaded from ``imageUrl``; upscaling a single tile (``/mj/submit/change``) is not done.
One submit makes one grid, so ``n`` must be 1.
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx

from orchestrator.providers import _http
from orchestrator.providers.base import (
    ProgressCallback,
    ProviderError,
    ProviderErrorKind,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.http_adapter import ErrorInfo, HttpAdapter
from orchestrator.settings import ProviderCredentials

COMMON_RATIOS: tuple[tuple[int, int], ...] = (
    (1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (16, 9), (9, 16), (5, 4), (4, 5),
    (7, 4), (4, 7), (2, 1), (1, 2), (21, 9), (9, 21), (4, 1), (1, 4),
)  # fmt: skip
SEED_MAX = 4_294_967_295

# Submit codes (ReturnCode.java) that mean "accepted": the task id is in ``result``.
ACCEPTED = {1: "submitted", 21: "already exists", 22: "queued"}

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_REFUSAL_WORDS = ("banned", "blocked", "moderat", "community standards", "content policy", "sensitive")


def aspect_ratio(width: int, height: int) -> str:
    """``W:H`` for ``--ar``: the reduced ratio when it is small, else the nearest common ratio."""
    g = math.gcd(width, height)
    w, h = width // g, height // g
    if max(w, h) <= 21:
        return f"{w}:{h}"
    target = math.log(width / height)
    w, h = min(COMMON_RATIOS, key=lambda r: abs(math.log(r[0] / r[1]) - target))
    return f"{w}:{h}"


def build_prompt(request: ProviderRequest) -> str:
    """The prompt with Midjourney's parameters appended (see the module docstring)."""
    params = {name.lstrip("-"): value for name, value in request.params.items()}
    parts = [" ".join(request.prompt.split())]
    # A route param of the same name wins over the derived flag: Midjourney rejects duplicates.
    if request.negative_prompt and "no" not in params:
        parts.append(f"--no {' '.join(request.negative_prompt.split())}")
    if "ar" not in params and "aspect" not in params:
        parts.append(f"--ar {aspect_ratio(request.width, request.height)}")
    if request.seed is not None and "seed" not in params:
        parts.append(f"--seed {request.seed % (SEED_MAX + 1)}")
    for flag, value in params.items():
        if value is True:
            parts.append(f"--{flag}")
        elif value is not False and value is not None:
            parts.append(f"--{flag} {value}")
    return " ".join(parts)


def parse_progress(value: Any) -> float | None:
    """``"45%"`` → 0.45; ``None`` when there is no percentage."""
    match = _PERCENT.search(str(value or ""))
    return min(1.0, float(match.group(1)) / 100) if match else None


class MidjourneyProvider(HttpAdapter):
    """Submits IMAGINE tasks to a midjourney-proxy and downloads the resulting grid."""

    name = "midjourney"
    display = "Midjourney proxy"
    default_base_url = "http://127.0.0.1:8080"  # never used: the proxy's URL is required
    auth_header, auth_scheme = "mj-api-secret", ""  # sent only when a secret is configured
    credential_setting = "ORCHESTRATOR_MIDJOURNEY_API_SECRET"
    """The proxy is enabled by its base URL; the secret is what it rejects."""
    poll_interval = 1.0

    @classmethod
    def _normalise_base(cls, base_url: str) -> str:
        # The proxy's servlet context path: added unless the configured URL already ends in it.
        return base_url.rstrip("/").removesuffix("/mj") + "/mj"

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Submit ``/imagine``, follow the task to ``SUCCESS`` and download the grid image."""
        self._check_operation(request)  # text to image only
        if not request.prompt.strip():
            raise self._invalid("needs a non-empty prompt", "empty_prompt")
        if request.n != 1:
            raise self._invalid(
                f"makes one grid per request; n={request.n} is not supported", "unsupported_n"
            )
        task_id = await self._submit(build_prompt(request), request.deadline)
        image_url = await self._wait(task_id, request.deadline, _http.monotonic_progress(on_progress))
        images = await self._download_all([image_url], request.deadline)
        return ProviderResult(images=images, provider_job_id=task_id, seed=request.seed)

    # ------------------------------------------------------------------ internals

    def _invalid(self, what: str, code: str) -> ProviderError:
        return self._fail(ProviderErrorKind.INVALID_REQUEST, f"{self.display} {what}", code)

    async def _submit(self, prompt: str, deadline: float | None) -> str:
        body = await self._call("POST", "/submit/imagine", deadline, json={"prompt": prompt})
        if not isinstance(body, dict):
            raise self._malformed("submit answer is not a JSON object")
        code = body.get("code")
        description = str(body.get("description") or "")
        raw_properties = body.get("properties")
        properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
        result = body.get("result")
        if code in ACCEPTED:
            if result is None or not str(result).strip():
                raise self._malformed(f"code {code} without a task id")
            return str(result)
        if code == 24:
            word = properties.get("bannedWord")
            raise self._refused(f"banned prompt{f' (banned word: {word})' if word else ''}", "banned_prompt")
        if code == 4:
            raise self._invalid(
                f"rejected the request: {description or 'validation error'}", "validation_error"
            )
        # 23 queue full, 9 system failure, 3 no account instance and anything unknown: the proxy
        # (or its Discord accounts) is busy or unwell right now.
        codes = {23: "queue_full", 9: "system_error", 3: "not_found"}
        raise self._fail(
            ProviderErrorKind.RETRYABLE,
            f"{self.display} could not take the task (code {code}): {description or 'no description'}",
            codes.get(code, f"code_{code}") if isinstance(code, int) else "unknown_code",
        )

    async def _wait(self, task_id: str, deadline: float | None, progress: ProgressCallback) -> str:
        async def fetch() -> dict[str, Any]:
            task = await self._call("GET", f"/task/{task_id}/fetch", deadline, polling=True)
            if not isinstance(task, dict):
                # The controller answers an unknown id with an empty 200: the proxy lost it.
                raise self._fail(
                    ProviderErrorKind.RETRYABLE,
                    f"{self.display} does not know task {task_id}",
                    "task_not_found",
                )
            return task

        async def step(task: dict[str, Any]) -> str | None:
            status = task.get("status")
            if status == "SUCCESS":
                url = task.get("imageUrl")
                if not isinstance(url, str) or not url:
                    raise self._malformed("SUCCESS task without imageUrl")
                return url
            if status == "FAILURE":
                raise _failure(task_id, str(task.get("failReason") or ""))
            fraction = parse_progress(task.get("progress"))
            if fraction is not None and status == "IN_PROGRESS":
                await progress(min(fraction, 0.99))
            elif status in ("NOT_START", "SUBMITTED"):
                await progress(0.0)
            # Any other status (forks add e.g. MODAL) is treated as still running.
            return None

        return await self._poll(fetch, step, deadline)

    def _error(self, response: httpx.Response, *, polling: bool = False) -> ProviderError:
        if response.status_code == 401:
            # The proxy answers 401 with an empty body; say which setting to look at.
            why = "wrong" if self._credential is not None else "missing (the proxy requires one)"
            return self._fail(
                ProviderErrorKind.AUTH,
                f"{self.display} rejected {self._setting}: the mj-api-secret is {why}",
                "unauthorized",
                401,
            )
        return super()._error(response, polling=polling)

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        body = _http.error_json(response)
        return ErrorInfo(str(body.get("message") or body.get("error") or response.text[:200]))


def _failure(task_id: str, reason: str) -> ProviderError:
    """Classify a ``FAILURE`` task by its ``failReason`` (Midjourney embed titles, proxy texts)."""
    display = MidjourneyProvider.display
    lowered = reason.lower()
    if any(word in lowered for word in _REFUSAL_WORDS):
        kind, code = ProviderErrorKind.CONTENT_POLICY, "banned_prompt"
        text = f"{display} refused the request: {reason}"
    elif "invalid" in lowered or "unrecognized" in lowered:
        kind, code = ProviderErrorKind.INVALID_REQUEST, "invalid_parameter"
        text = f"Midjourney rejected the request: {reason}"
    else:  # "任务超时" (proxy timeout), queue/Discord hiccups
        kind, code = ProviderErrorKind.RETRYABLE, "task_failed"
        text = f"{display} task {task_id} failed: {reason or 'no reason given'}"
    return MidjourneyProvider._fail(kind, text, code)


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> MidjourneyProvider | None:
    """The Midjourney adapter, or ``None`` when ``ORCHESTRATOR_MIDJOURNEY_BASE_URL`` is unset."""
    if not credentials.midjourney_base_url:
        return None
    return MidjourneyProvider(
        client, credential=credentials.midjourney_api_secret, base_url=credentials.midjourney_base_url
    )
