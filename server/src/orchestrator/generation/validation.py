"""Checking a request against the catalog and filling in the model's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from orchestrator.catalog.catalog import Catalog, ModelSpec
from orchestrator.errors import ErrorCode, InvalidRequest, ModelNotAvailable


class RequestedFields(Protocol):
    """What a caller asked for (e.g. ``SubmitParams``); ``None`` takes the model's default."""

    @property
    def model(self) -> str: ...
    @property
    def size(self) -> str | None: ...
    @property
    def quality(self) -> str | None: ...
    @property
    def style(self) -> str | None: ...
    @property
    def n(self) -> int: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def negative_prompt(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ResolvedParams:
    """The requested fields, checked against the model and with its defaults filled in."""

    model: ModelSpec
    size: str
    quality: str
    style: str | None
    n: int


def _allowed(values: list[str]) -> str:
    return ", ".join(values)


def resolve(catalog: Catalog, request: RequestedFields, *, max_n: int) -> ResolvedParams:
    """Validate against the model's capabilities; every refusal names the field and what is allowed."""
    model, size, quality, style, n = request.model, request.size, request.quality, request.style, request.n
    seed, negative_prompt = request.seed, request.negative_prompt
    spec = catalog.get(model)
    if spec is None:
        raise ModelNotAvailable(
            f"model {model!r} does not exist; available models: {_allowed(sorted(catalog.models))}",
            param="model",
        )
    size = size or spec.size
    if size not in spec.sizes:
        raise InvalidRequest(
            f"size {size!r} is not supported by {model}; allowed: {_allowed(spec.sizes)}",
            param="size",
            code=ErrorCode.UNSUPPORTED_VALUE,
        )
    quality = quality or spec.quality
    if quality not in spec.qualities:
        raise InvalidRequest(
            f"quality {quality!r} is not supported by {model}; allowed: {_allowed(spec.qualities)}",
            param="quality",
            code=ErrorCode.UNSUPPORTED_VALUE,
        )
    style = style or spec.default_style
    if style is not None and style not in spec.styles:
        raise InvalidRequest(
            f"style {style!r} is not supported by {model}; allowed: {_allowed(spec.styles)}",
            param="style",
            code=ErrorCode.UNSUPPORTED_VALUE,
        )
    limit = min(spec.max_n, max_n)
    if n > limit:
        raise InvalidRequest(
            f"n must be at most {limit} for {model}", param="n", code=ErrorCode.UNSUPPORTED_VALUE
        )
    if seed is not None and not spec.supports_seed:
        raise InvalidRequest(
            f"{model} does not support a seed; remove the field",
            param="seed",
            code=ErrorCode.UNSUPPORTED_VALUE,
        )
    if negative_prompt is not None and not spec.supports_negative_prompt:
        raise InvalidRequest(
            f"{model} does not support negative_prompt; remove the field",
            param="negative_prompt",
            code=ErrorCode.UNSUPPORTED_VALUE,
        )
    return ResolvedParams(spec, size, quality, style, n)
