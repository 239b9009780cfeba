"""OpenAI Images adapter: generations, edits and variations (``providers.md`` §1).

- ``generate`` → ``POST {base}/images/generations`` (JSON);
- ``edit`` → ``POST {base}/images/edits`` (multipart): one ``image``, or up to 16 ``image[]`` on
  GPT image models, and an optional ``mask`` (PNG with alpha, the size of the first image);
- ``variation`` → ``POST {base}/images/variations`` (multipart, dall-e-2 only).

The gpt-image options (``quality``, ``background``, ``output_format``, ``output_compression``,
``moderation``) are sent from the request's fields on GPT image models and refused on DALL·E.
When the request asks for ``partial_images`` and gives ``on_partial_image`` (GPT image models,
``n == 1``), the call is made with ``stream: true``: each ``*.partial_image`` event is decoded and
passed on as it arrives, and the ``*.completed`` event carries the final image and usage.

GPT image models always answer ``b64_json``; DALL·E models are asked for ``b64_json`` too (one
round trip, no expiring URL), unless the route's params ask for ``response_format: url``, in
which case the URLs are downloaded. ``request.params`` holds the route's native parameters
(``quality``, ``style``, ``background``, ``output_format``…) and is sent as-is.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from orchestrator.providers import _http
from orchestrator.providers.base import (
    Operation,
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

MAX_EDIT_IMAGES = 16
"""GPT image models take up to 16 ``image[]`` files; DALL·E 2 takes one ``image``."""
_GPT_OPTIONS = ("background", "output_format", "output_compression", "moderation")

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
    operations = frozenset({Operation.GENERATE, Operation.EDIT, Operation.VARIATION})

    def _gpt_options(self, request: ProviderRequest, *, quality: bool = False) -> dict[str, Any]:
        """The gpt-image options set on ``request``; refused on DALL·E, which has none of them.
        ``quality``: also send ``request.quality`` (edits; generations take it from the route)."""
        options: dict[str, Any] = {
            name: getattr(request, name) for name in _GPT_OPTIONS if getattr(request, name) is not None
        }
        if options and is_dalle(request.provider_model):
            raise self._fail(
                ProviderErrorKind.INVALID_REQUEST,
                f"{request.provider_model} does not support {', '.join(sorted(options))} "
                "(GPT image models only)",
                "unsupported_parameter",
            )
        if quality and request.quality is not None and not is_dalle(request.provider_model):
            options["quality"] = request.quality
        return options

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
        body.update(self._gpt_options(request))
        # Route-native parameters (quality, style, background, output_format, ...) win over our
        # defaults, so an operator can e.g. force response_format=url in the catalog.
        body.update(request.params)
        body["model"], body["prompt"] = model, request.prompt
        return body

    @staticmethod
    def streams(request: ProviderRequest) -> bool:
        """Whether ``request`` is sent with ``stream: true`` (partial images wanted and possible)."""
        return (
            request.partial_images > 0
            and request.on_partial_image is not None
            and request.n == 1
            and not is_dalle(request.provider_model)
            and request.operation in (Operation.GENERATE, Operation.EDIT)
        )

    def build_form(self, request: ProviderRequest) -> tuple[str, dict[str, str], list[tuple[str, Any]]]:
        """``(path, form fields, files)`` of an edit or variation (exposed for tests)."""
        model = request.provider_model
        fields: dict[str, Any] = {
            "model": model,
            "n": request.n,
            "size": wire_size(model, request.width, request.height),
        }
        if request.operation is Operation.VARIATION:
            if model != "dall-e-2":
                raise self._fail(
                    ProviderErrorKind.INVALID_REQUEST,
                    f"OpenAI variations exist for dall-e-2 only, not {model!r}",
                    "unsupported_operation",
                )
            path, images = "/images/variations", request.images[:1]
        else:
            path, images = "/images/edits", request.images
            fields["prompt"] = request.prompt
            limit = 1 if is_dalle(model) else MAX_EDIT_IMAGES
            if len(images) > limit:
                raise self._fail(
                    ProviderErrorKind.INVALID_REQUEST,
                    f"{model} edits take at most {limit} input image(s), got {len(images)}",
                    "too_many_images",
                )
        if is_dalle(model):
            fields["response_format"] = "b64_json"
        fields.update(self._gpt_options(request, quality=True))
        fields.update(request.params)
        fields["model"] = model
        # One file is sent as ``image``; several as repeated ``image[]`` (what OpenAI's SDK sends).
        field_name = "image" if len(images) == 1 else "image[]"
        files: list[tuple[str, Any]] = [
            (field_name, (f"image-{i}.{_ext(image.content_type)}", image.data, image.content_type))
            for i, image in enumerate(images)
        ]
        if request.mask is not None and request.operation is Operation.EDIT:
            files.append(("mask", ("mask.png", request.mask.data, request.mask.content_type)))
        return path, {k: _form_value(v) for k, v in fields.items()}, files

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self._check_operation(request)
        stream = _Stream(self, request) if self.streams(request) else None
        extra = {"stream": True, "partial_images": min(3, request.partial_images)} if stream else {}
        on_line = stream.feed if stream is not None else None
        if request.operation is Operation.GENERATE:
            body = {**self.build_body(request), **extra}
            response = await self._send(
                "POST", "/images/generations", request.deadline, json=body, on_line=on_line
            )
        else:
            path, form, files = self.build_form(request)
            form.update({key: _form_value(value) for key, value in extra.items()})
            response = await self._send(
                "POST", path, request.deadline, data=form, files=files, on_line=on_line
            )
        if stream is not None and response.headers.get("content-type", "").startswith("text/event-stream"):
            await on_progress(1.0)
            return stream.result(response.headers.get("x-request-id"))
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


class _Stream:
    """Reads OpenAI's image Server-Sent Events: partial images out as they come, the final kept."""

    def __init__(self, adapter: OpenAIProvider, request: ProviderRequest) -> None:
        self._adapter = adapter
        self._callback = request.on_partial_image
        self._final: ProviderImage | None = None
        self._usage: dict[str, Any] | None = None

    async def feed(self, line: str) -> None:
        if not line.startswith("data:"):
            return  # "event:" lines repeat the type; blank lines end an event
        try:
            event = json.loads(line[5:].strip())
        except ValueError as exc:
            raise self._adapter._malformed("a streamed event is not JSON") from exc
        if not isinstance(event, dict):
            raise self._adapter._malformed("a streamed event is not a JSON object")
        kind = str(event.get("type", ""))
        if kind == "error" or "error" in event:
            nested = event.get("error")
            error: dict[str, Any] = nested if isinstance(nested, dict) else event
            code = str(error.get("code") or "stream_error")
            message = str(error.get("message") or "the stream reported an error")
            if code in _REFUSAL_CODES:
                raise self._adapter._refused(message, code)
            raise self._adapter._fail(ProviderErrorKind.RETRYABLE, f"OpenAI stream failed: {message}", code)
        payload = event.get("b64_json")
        if not isinstance(payload, str):
            return
        if kind.endswith(".partial_image"):
            index = event.get("partial_image_index")
            if self._callback is not None:
                await self._callback(
                    index if isinstance(index, int) else 0, self._adapter._decode_b64(payload)
                )
        elif kind.endswith(".completed"):
            self._final = self._adapter._decode_b64(payload)
            usage = event.get("usage")
            self._usage = usage if isinstance(usage, dict) else None

    def result(self, request_id: str | None) -> ProviderResult:
        if self._final is None:
            raise self._adapter._malformed("the stream ended without a completed event")
        return ProviderResult(images=[self._final], provider_job_id=request_id, usage=self._usage)


def _ext(content_type: str) -> str:
    return {"image/jpeg": "jpg", "image/webp": "webp"}.get(content_type, "png")


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> OpenAIProvider | None:
    """Build the adapter when ``ORCHESTRATOR_OPENAI_API_KEY`` is set."""
    organization = credentials.openai_organization
    return OpenAIProvider.configured(
        client,
        credentials.openai_api_key,
        credentials.openai_base_url,
        headers={"OpenAI-Organization": organization} if organization else None,
    )
