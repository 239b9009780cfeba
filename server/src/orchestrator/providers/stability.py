"""Stability AI adapter: v2beta Stable Image generate, edit and upscale endpoints (``providers.md`` §2).

Operations by route model:

- ``generate``: ``ultra``, ``core``, ``sd3``/``sd3.5-*`` → ``/v2beta/stable-image/generate/...``;
- ``image_to_image``: ``ultra`` and ``sd3.5-*`` with ``image`` + ``strength`` (sd3: ``mode=image-to-image``);
- ``edit``: ``edit/inpaint`` (image, optional ``mask``), ``edit/outpaint`` (``left``/``right``/
  ``up``/``down`` from the route params, else derived from the requested size),
  ``edit/search-and-replace`` (``search_prompt`` from the route params);
- ``remove_background``: ``edit/remove-background`` (png or webp);
- ``upscale``: ``upscale/fast`` (always 4x), ``upscale/conservative`` (to about 4 MP) and
  ``upscale/creative`` (asynchronous: ``POST`` answers ``{"id"}``, ``GET /v2beta/results/{id}``
  answers 202 while in progress, then the image).

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
    Operation,
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
MAX_OUTPAINT = 2000
"""Most pixels ``edit/outpaint`` adds on one side."""

EDIT_ENDPOINTS: dict[str, Operation] = {
    "edit/inpaint": Operation.EDIT,
    "edit/outpaint": Operation.EDIT,
    "edit/search-and-replace": Operation.EDIT,
    "edit/remove-background": Operation.REMOVE_BACKGROUND,
    "upscale/fast": Operation.UPSCALE,
    "upscale/conservative": Operation.UPSCALE,
    "upscale/creative": Operation.UPSCALE,
}
"""Route models that are v2beta stable-image paths of their own, with the operation each does."""
ASYNC_ENDPOINTS = frozenset({"upscale/creative"})
PROMPTLESS = frozenset({"edit/remove-background", "upscale/fast"})
"""Endpoints without a ``prompt`` field."""
NO_SEED = frozenset({"edit/remove-background", "upscale/fast"})
FAST_UPSCALE_FACTOR = 4


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
    operations = frozenset(
        {
            Operation.GENERATE,
            Operation.IMAGE_TO_IMAGE,
            Operation.EDIT,
            Operation.REMOVE_BACKGROUND,
            Operation.UPSCALE,
        }
    )

    @staticmethod
    def route_operations(model: str) -> frozenset[Operation]:
        """What a route model can do."""
        if model in EDIT_ENDPOINTS:
            return frozenset({EDIT_ENDPOINTS[model]})
        if model == "core":
            return frozenset({Operation.GENERATE})
        return frozenset({Operation.GENERATE, Operation.IMAGE_TO_IMAGE})

    def build_form(self, request: ProviderRequest, index: int = 0) -> tuple[str, dict[str, str]]:
        """``(path, form fields)`` for image number ``index`` of ``request``."""
        if request.provider_model in EDIT_ENDPOINTS:
            return self._edit_form(request, index)
        endpoint, model = endpoint_for(request.provider_model)
        form: dict[str, str] = {
            "prompt": request.prompt,
            "aspect_ratio": _http.nearest_aspect_ratio(request.width, request.height, ASPECT_RATIOS),
            "output_format": "png",
        }
        if model is not None:
            form["model"] = model
        if request.operation is Operation.IMAGE_TO_IMAGE:
            # With an image the output follows its aspect: Stability refuses aspect_ratio then.
            del form["aspect_ratio"]
            form["strength"] = _form_value(0.5 if request.strength is None else request.strength)
            if endpoint == "sd3":
                form["mode"] = "image-to-image"
        if request.output_format is not None:
            form["output_format"] = request.output_format
        if request.seed is not None:
            # 0 means "random" at Stability, so a requested seed of 0 is shifted into range.
            form["seed"] = str((request.seed + index) % MAX_SEED or 1)
        if request.negative_prompt:
            form["negative_prompt"] = request.negative_prompt
        # Route-native parameters: style_preset, cfg_scale, output_format, ...
        form.update({key: _form_value(value) for key, value in request.params.items()})
        return f"/v2beta/stable-image/generate/{endpoint}", form

    def _edit_form(self, request: ProviderRequest, index: int) -> tuple[str, dict[str, str]]:
        endpoint = request.provider_model
        form: dict[str, str] = {"output_format": request.output_format or "png"}
        if endpoint not in PROMPTLESS:
            form["prompt"] = request.prompt
        if request.negative_prompt and endpoint not in PROMPTLESS and endpoint != "edit/outpaint":
            form["negative_prompt"] = request.negative_prompt
        if request.seed is not None and endpoint not in NO_SEED:
            form["seed"] = str((request.seed + index) % MAX_SEED or 1)
        if endpoint == "upscale/fast" and request.scale not in (None, FAST_UPSCALE_FACTOR):
            raise self._fail(
                ProviderErrorKind.INVALID_REQUEST,
                f"Stability upscale/fast always enlarges {FAST_UPSCALE_FACTOR}x, not {request.scale}x",
                "unsupported_scale",
            )
        if endpoint == "edit/outpaint" and not {"left", "right", "up", "down"} & set(request.params):
            form.update(_outpaint_margins(request))
        form.update({key: _form_value(value) for key, value in request.params.items()})
        return f"/v2beta/stable-image/{endpoint}", form

    def _files(self, request: ProviderRequest) -> dict[str, tuple[str, bytes, str]]:
        if request.operation is Operation.GENERATE:
            # Stability requires multipart even without a file; an empty part forces httpx to send it.
            return {"none": ("", b"", "application/octet-stream")}
        image = request.images[0]
        files = {"image": ("image", image.data, image.content_type)}
        if request.mask is not None and request.provider_model == "edit/inpaint":
            files["mask"] = ("mask.png", request.mask.data, request.mask.content_type)
        return files

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        self._check_operation(request, self.route_operations(request.provider_model))
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
            files=self._files(request),
            headers={"accept": "image/*"},
        )
        if request.provider_model in ASYNC_ENDPOINTS:
            response = await self._result(response, request.deadline)
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

    async def _result(self, submitted: httpx.Response, deadline: float | None) -> httpx.Response:
        """Poll ``GET /v2beta/results/{id}`` of an asynchronous endpoint until it answers the image."""
        body = _http.json_body(submitted, provider=self.name, display=self.display)
        result_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(result_id, str) or not result_id:
            raise self._malformed("asynchronous submit answered no 'id'")

        async def fetch() -> httpx.Response:
            return await self._send(
                "GET", f"/v2beta/results/{result_id}", deadline, polling=True, headers={"accept": "image/*"}
            )

        async def step(response: httpx.Response) -> httpx.Response | None:
            # 202 {"id", "status": "in-progress"} while running; 200 with the image when done.
            return None if response.status_code == 202 else response

        return await self._poll(fetch, step, deadline)

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


def _outpaint_margins(request: ProviderRequest) -> dict[str, str]:
    """Margins that grow the input to the requested size, split evenly (capped per side)."""
    image = request.images[0]
    extra_w = max(0, request.width - image.width)
    extra_h = max(0, request.height - image.height)
    sides = {
        "left": extra_w // 2,
        "right": extra_w - extra_w // 2,
        "up": extra_h // 2,
        "down": extra_h - extra_h // 2,
    }
    return {side: str(min(MAX_OUTPAINT, value)) for side, value in sides.items() if value}


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> StabilityProvider | None:
    """Build the adapter when ``ORCHESTRATOR_STABILITY_API_KEY`` is set."""
    return StabilityProvider.configured(client, credentials.stability_api_key, credentials.stability_base_url)
