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
    ProviderErrorKind,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.http_adapter import ErrorInfo, HttpAdapter
from orchestrator.settings import ProviderCredentials

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


class StabilityProvider(HttpAdapter):
    """Talks to Stability's REST API."""

    name = "stability"
    display = "Stability AI"
    default_base_url = "https://api.stability.ai"

    def build_form(self, request: ProviderRequest, index: int = 0) -> tuple[str, dict[str, str]]:
        """``(path, form fields)`` for image number ``index`` of ``request``."""
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
        return f"/v2beta/stable-image/generate/{endpoint}", form

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
        path, form = self.build_form(request, index)
        response = await self._send(
            "POST",
            path,
            request.deadline,
            data=form,
            # Stability requires multipart even without a file; an empty part forces httpx to send it.
            files={"none": ("", b"")},
            headers={"accept": "image/*"},
        )
        finish = response.headers.get("finish-reason", "SUCCESS").upper()
        if finish == "CONTENT_FILTERED":
            # Stability blurs the output and still answers 200: we never hand that image out.
            raise self._refused(
                "the output was blurred by its content filter", "content_filtered", response.status_code
            )
        if finish not in ("SUCCESS", ""):
            raise self._malformed(f"finish-reason {finish!r}")
        image = _http.sniff_image(response.content, provider=self.name)
        raw_seed = response.headers.get("seed", "")
        return image, int(raw_seed) if raw_seed.isdigit() else None, response.headers.get("x-request-id")

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        """Stability's error body is ``{id, name, errors: [...]}``."""
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
        return ErrorInfo(message, name, kind)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> StabilityProvider | None:
    """Build the adapter when ``ORCHESTRATOR_STABILITY_API_KEY`` is set."""
    return StabilityProvider.configured(client, credentials.stability_api_key, credentials.stability_base_url)
