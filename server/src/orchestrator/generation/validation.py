"""Checking a request against the catalog and filling in the model's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from orchestrator.catalog.catalog import Catalog, ModelSpec, OperationSpec
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


def unsupported(message: str, *, param: str, extra: dict[str, Any] | None = None) -> InvalidRequest:
    """The refusal of a value (or field) the model or the server does not support: 422."""
    return InvalidRequest(message, param=param, code=ErrorCode.UNSUPPORTED_VALUE, extra=extra)


def check_allowed(model: str, param: str, value: str, allowed: list[str]) -> None:
    """``value`` is one of the model's ``allowed`` values for ``param`` (else 422 naming them)."""
    if value not in allowed:
        raise unsupported(
            f"{param} {value!r} is not supported by {model}; allowed: {_allowed(allowed)}", param=param
        )


def refuse_unsupported(model: str, param: str, what: str | None = None) -> NoReturn:
    """A field the model does not take at all: 422, asking to remove it."""
    raise unsupported(f"{model} does not support {what or param}; remove the field", param=param)


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
    if not spec.text_to_image:
        raise unsupported(
            f"{model} does not generate images from text (it does {_allowed(list(spec.operations))}); "
            f"models that do: {_allowed(catalog.models_for('generate'))}",
            param="model",
        )
    size = size or spec.size
    check_allowed(model, "size", size, spec.sizes)
    quality = quality or spec.quality
    check_allowed(model, "quality", quality, spec.qualities)
    style = style or spec.default_style
    if style is not None:
        check_allowed(model, "style", style, spec.styles)
    limit = min(spec.max_n, max_n)
    if n > limit:
        raise unsupported(f"n must be at most {limit} for {model}", param="n")
    if seed is not None and not spec.supports_seed:
        refuse_unsupported(model, "seed", "a seed")
    if negative_prompt is not None and not spec.supports_negative_prompt:
        refuse_unsupported(model, "negative_prompt")
    return ResolvedParams(spec, size, quality, style, n)


@dataclass(frozen=True, slots=True)
class ResolvedOperation:
    model: ModelSpec
    spec: OperationSpec
    strength: float | None
    scale: int | None


OPTION_VALUES = {
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("low", "auto"),
}


def check_output_options(spec: ModelSpec, options: dict[str, object]) -> None:
    """Each output option is honoured by the model's routes, with a value they accept."""
    for name, value in options.items():
        if name not in spec.output_options:
            raise unsupported(f"{name} is not supported by {spec.name}; remove the field", param=name)
        allowed = OPTION_VALUES.get(name)
        if allowed is not None and value not in allowed:
            raise unsupported(f"{name} must be one of {_allowed(list(allowed))}", param=name)
    compression = options.get("output_compression")
    if compression is not None:
        if not isinstance(compression, int) or not 0 <= compression <= 100:
            raise unsupported(
                "output_compression must be an integer from 0 to 100", param="output_compression"
            )
        if options.get("output_format") in (None, "png"):
            raise unsupported(
                "output_compression applies to jpeg and webp output only", param="output_compression"
            )


def resolve_operation(
    catalog: Catalog,
    *,
    model: str,
    operation: str,
    n: int,
    prompt: str,
    images: int,
    mask: bool,
    strength: float | None,
    scale: int | None,
    max_n: int,
) -> ResolvedOperation:
    """Validate an image operation against the model's catalog entry (before any input is read
    or stored); every refusal names the field, and an unsupported operation names the models
    that have it."""
    spec = catalog.get(model)
    having = _allowed(catalog.models_for(operation))
    if spec is None:
        raise ModelNotAvailable(
            f"model {model!r} does not exist; models for {operation}: {having}",
            param="model",
        )
    op = spec.operations.get(operation)
    if op is None:
        raise unsupported(f"{model} does not support {operation}; models that do: {having}", param="model")
    if images < 1:
        raise InvalidRequest(f"{operation} needs an input image", param="image")
    if images > op.max_images:
        raise unsupported(
            f"{model} takes at most {op.max_images} input image(s) for {operation}; got {images}",
            param="image",
        )
    if mask and not op.mask:
        raise unsupported(f"{model} does not take a mask for {operation}; remove the field", param="mask")
    if op.prompt and not prompt.strip():
        raise InvalidRequest(f"{operation} on {model} needs a prompt", param="prompt")
    limit = min(op.max_n, max_n)
    if n > limit:
        raise unsupported(f"n must be at most {limit} for {operation} on {model}", param="n")
    if operation == "upscale":
        if scale is None:
            scale = op.factors[0] if len(op.factors) == 1 else None
        if scale not in op.factors:
            raise unsupported(
                f"factor must be one of {_allowed([str(f) for f in op.factors])} for {model}", param="factor"
            )
    elif scale is not None:
        raise InvalidRequest("factor applies to upscale only", param="factor")
    if operation == "image_to_image":
        low, high = op.strength or (0.0, 1.0)
        strength = op.default_strength if strength is None else strength
        if strength is None or not low <= strength <= high:
            raise unsupported(f"strength must be from {low} to {high} for {model}", param="strength")
    elif strength is not None:
        raise InvalidRequest("strength applies to image_to_image only", param="strength")
    return ResolvedOperation(spec, op, strength, scale)
