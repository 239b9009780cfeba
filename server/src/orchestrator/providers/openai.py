"""OpenAI Images adapter: ``POST {base}/images/generations`` (``providers.md`` §1).

GPT image models always answer ``b64_json``; DALL·E models are asked for ``b64_json`` too (one
round trip, no expiring URL), unless the route's params ask for ``response_format: url``, in
which case the URLs are downloaded. ``request.params`` holds the route's native parameters
(``quality``, ``style``, ``background``, ``output_format``…) and is sent as-is.
"""

from __future__ import annotations

import re
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

SIZES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
}
GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536")
_FREE_SIZE_MODELS = re.compile(r"^gpt-image-2")
"""gpt-image-2 accepts any WxH with sides multiple of 16 (aspect within 1:3..3:1)."""

_REFUSAL_CODES = frozenset({"content_policy_violation", "moderation_blocked"})
_BILLING_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})


def is_dalle(model: str) -> bool:
    return model.startswith("dall-e")


def wire_size(model: str, width: int, height: int) -> str:
    """Our ``width`` x ``height`` as the ``size`` string ``model`` accepts (nearest allowed)."""
    if _FREE_SIZE_MODELS.match(model):
        w, h = (max(16, round(v / 16) * 16) for v in (width, height))
        return f"{w}x{h}"
    return _http.nearest_size(width, height, SIZES.get(model, GPT_IMAGE_SIZES))


class OpenAIProvider(HttpAdapter):
    """Talks to OpenAI (or any gateway speaking its Images API)."""

    name = "openai"
    display = "OpenAI"
    default_base_url = "https://api.openai.com/v1"

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body for ``request`` (exposed for tests and debugging)."""
        model = request.provider_model
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.prompt,
            "n": request.n,
            "size": wire_size(model, request.width, request.height),
        }
        if is_dalle(model):
            body["response_format"] = "b64_json"
        # Route-native parameters (quality, style, background, output_format, ...) win over our
        # defaults, so an operator can e.g. force response_format=url in the catalog.
        body.update(request.params)
        body["model"], body["prompt"] = model, request.prompt
        return body

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        response = await self._send(
            "POST", "/images/generations", request.deadline, json=self.build_body(request)
        )
        payload = _http.json_body(response, provider=self.name, display=self.display)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list) or not payload["data"]:
            raise self._malformed("no 'data' list in the images response")
        images: list[ProviderImage] = []
        revised: str | None = None
        for item in payload["data"]:
            if not isinstance(item, dict):
                raise self._malformed("'data' item is not an object")
            if isinstance(item.get("b64_json"), str):
                images.append(self._decode_b64(item["b64_json"]))
            elif isinstance(item.get("url"), str):
                images.extend(await self._download_all([item["url"]], request.deadline))
            else:
                raise self._malformed("image has neither 'b64_json' nor 'url'")
            if revised is None and isinstance(item.get("revised_prompt"), str):
                revised = item["revised_prompt"]
        await on_progress(1.0)
        request_id = response.headers.get("x-request-id")
        created = payload.get("created")
        usage = payload.get("usage")
        return ProviderResult(
            images=images,
            provider_job_id=request_id or (f"created:{created}" if created is not None else None),
            revised_prompt=revised,
            usage=usage if isinstance(usage, dict) else None,
        )

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        """OpenAI's error body is ``{"error": {message, type, param, code}}``."""
        error = _http.error_json(response).get("error")
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        type_ = error.get("type") if isinstance(error.get("type"), str) else None
        message = str(error.get("message") or response.text[:300] or f"HTTP {response.status_code}")
        if isinstance(error.get("param"), str) and response.status_code < 500:
            message = f"{message} (param: {error['param']})"
        kind: ProviderErrorKind | None = None
        if code in _REFUSAL_CODES:
            kind = ProviderErrorKind.CONTENT_POLICY
        elif code in _BILLING_CODES or type_ in _BILLING_CODES:
            kind = ProviderErrorKind.AUTH  # out of quota is a 429 at OpenAI, but waiting won't help
        return ErrorInfo(message, code or type_, kind)


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> OpenAIProvider | None:
    """Build the adapter when ``ORCHESTRATOR_OPENAI_API_KEY`` is set."""
    organization = credentials.openai_organization
    return OpenAIProvider.configured(
        client,
        credentials.openai_api_key,
        credentials.openai_base_url,
        headers={"OpenAI-Organization": organization} if organization else None,
    )
