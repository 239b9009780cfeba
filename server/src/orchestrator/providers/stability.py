"""Stability AI adapter: v2beta Stable Image generate endpoints (``providers.md`` §2).

Route models: ``ultra`` and ``core`` are endpoints of their own; anything else (``sd3.5-large``,
``sd3.5-large-turbo``, ``sd3.5-medium``, ``sd3.5-flash``…) goes to ``/generate/sd3`` with the
model in the ``model`` form field. Requests are ``multipart/form-data`` with ``accept: image/*``:
the body is the image, ``finish-reason`` and ``seed`` come back as headers. Stability generates
one image per call, so ``n > 1`` makes ``n`` calls (seeded ``seed + i`` when a seed is given).
"""

from __future__ import annotations

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

NAME = "stability"
DISPLAY = "Stability AI"
CREDENTIAL = "ORCHESTRATOR_STABILITY_API_KEY"

ASPECT_RATIOS = ("21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21")
_ENDPOINTS = frozenset({"ultra", "core"})
_REFUSAL_NAMES = frozenset({"content_moderation", "public_figure"})
MAX_SEED = 4294967294


def endpoint_for(model: str) -> tuple[str, str | None]:
    """``(endpoint, model form field)`` for a route model."""
    if model in _ENDPOINTS:
        return model, None
    if model == "sd3":
        return "sd3", None
    return "sd3", model


class StabilityProvider:
    """Talks to Stability's REST API through a shared httpx client."""

    name = NAME

    def __init__(
        self, client: httpx.AsyncClient, *, api_key: str, base_url: str = "https://api.stability.ai"
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")

    def __repr__(self) -> str:  # never show the key
        return f"StabilityProvider(base_url={self._base_url!r})"

    def build_form(self, request: ProviderRequest, index: int = 0) -> tuple[str, dict[str, str]]:
        """``(url, form fields)`` for image number ``index`` of ``request``."""
        endpoint, model = endpoint_for(request.provider_model)
        form: dict[str, str] = {
            "prompt": request.prompt,
            "aspect_ratio": _http.nearest_aspect_ratio(request.width, request.height, ASPECT_RATIOS),
            "output_format": "png",
        }
        if model is not None:
            form["model"] = model
        if request.seed is not None:
            # 0 means "random" at Stability, so a requested seed of 0 is shifted into range.
            form["seed"] = str((request.seed + index) % MAX_SEED or 1)
        if request.negative_prompt:
            form["negative_prompt"] = request.negative_prompt
        # Route-native parameters: style_preset, cfg_scale, output_format, ...
        form.update({key: _form_value(value) for key, value in request.params.items()})
        return f"{self._base_url}/v2beta/stable-image/generate/{endpoint}", form

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        images: list[ProviderImage] = []
        seed: int | None = None
        job_ids: list[str] = []
        for index in range(request.n):
            image, image_seed, job_id = await self._one(request, index)
            images.append(image)
            seed = image_seed if seed is None else seed
            if job_id:
                job_ids.append(job_id)
            await on_progress((index + 1) / request.n)
        return ProviderResult(images=images, provider_job_id=",".join(job_ids) or None, seed=seed)

    async def _one(
        self, request: ProviderRequest, index: int
    ) -> tuple[ProviderImage, int | None, str | None]:
        url, form = self.build_form(request, index)
        http_request = self._client.build_request(
            "POST",
            url,
            data=form,
            # Stability requires multipart even without a file; an empty part forces httpx to send it.
            files={"none": ("", b"")},
            headers={"authorization": f"Bearer {self._api_key}", "accept": "image/*"},
        )
        response = await _http.send(self._client, http_request, provider=NAME, deadline=request.deadline)
        if response.status_code >= 400:
            raise self._error(response)
        finish = response.headers.get("finish-reason", "SUCCESS").upper()
        if finish == "CONTENT_FILTERED":
            # Stability blurs the output and still answers 200: we never hand that image out.
            raise ProviderError(
                ProviderErrorKind.CONTENT_POLICY,
                f"{DISPLAY} refused the request: the output was blurred by its content filter",
                provider=NAME,
                status_code=response.status_code,
                provider_code="content_filtered",
            )
        if finish not in ("SUCCESS", ""):
            raise _http.malformed(NAME, DISPLAY, f"finish-reason {finish!r}")
        image = _http.sniff_image(response.content, provider=NAME)
        raw_seed = response.headers.get("seed", "")
        return image, int(raw_seed) if raw_seed.isdigit() else None, response.headers.get("x-request-id")

    def _error(self, response: httpx.Response) -> ProviderError:
        """Classify a Stability error (body ``{id, name, errors: [...]}``)."""
        body = _http.error_json(response)
        name = body.get("name") if isinstance(body.get("name"), str) else None
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            message = "; ".join(str(e) for e in errors)
        else:
            message = str(body.get("message") or response.text[:300])
        kind: ProviderErrorKind | None = None
        if name in _REFUSAL_NAMES:
            kind = ProviderErrorKind.CONTENT_POLICY
        elif response.status_code == 403:
            kind = ProviderErrorKind.AUTH
        return _http.status_error(
            NAME,
            DISPLAY,
            response,
            message,
            code=name,
            kind=kind,
            credential=CREDENTIAL,
            secret=self._api_key,
        )

    async def aclose(self) -> None:
        """Nothing to release: the pooled client belongs to the application."""


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> Provider | None:
    """Build the adapter when ``ORCHESTRATOR_STABILITY_API_KEY`` is set."""
    if credentials.stability_api_key is None:
        return None
    return StabilityProvider(
        client,
        api_key=credentials.stability_api_key.get_secret_value(),
        base_url=credentials.stability_base_url,
    )
