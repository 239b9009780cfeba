"""Deciding an image operation: what :meth:`GenerationService.operate` checks before its inputs
are read (the catalog's rules), and after (the output size, the quality), then its plan."""

from __future__ import annotations

from typing import Any

from orchestrator.catalog.catalog import parse_size
from orchestrator.errors import ErrorCode, InvalidRequest
from orchestrator.generation.inputs import CheckedInput
from orchestrator.generation.params import SubmitParams
from orchestrator.generation.request import Planner, ResolvedRequest
from orchestrator.generation.validation import (
    ResolvedOperation,
    check_allowed,
    check_output_options,
    refuse_unsupported,
    resolve_operation,
    unsupported,
)


def check_operation(
    planner: Planner, params: SubmitParams, *, max_n: int
) -> tuple[ResolvedOperation, dict[str, Any]]:
    """The request against the model's catalog entry, before any input is read or stored; with
    its output options (checked too)."""
    op = resolve_operation(
        planner.catalog,
        model=params.model,
        operation=params.operation,
        n=params.n,
        prompt=params.prompt,
        images=len(params.images),
        mask=params.mask is not None,
        strength=params.strength,
        scale=params.scale,
        max_n=max_n,
    )
    if params.negative_prompt is not None and not op.model.supports_negative_prompt:
        refuse_unsupported(op.model.name, "negative_prompt")
    options = params.options.as_json()
    check_output_options(op.model, options)
    return op, options


def plan_operation(
    planner: Planner,
    params: SubmitParams,
    op: ResolvedOperation,
    options: dict[str, Any],
    first: CheckedInput,
    *,
    livemode: bool,
    max_output_pixels: int,
) -> ResolvedRequest:
    """Once the inputs are checked: the output size (from the ``first`` input), the quality, and
    the operation's routes and price."""
    size = output_size(params, first, op.scale, max_output_pixels)
    operation_params = {
        **({"factor": op.scale} if op.scale is not None else {}),
        **({"strength": op.strength} if op.strength is not None else {}),
        **options,
        **({"partial_images": params.partial_images} if params.partial_images else {}),
    }
    if params.quality is not None:
        check_allowed(op.model.name, "quality", params.quality, op.model.qualities)
    return planner.plan_operation(
        op.model,
        params.operation,
        size=size,
        n=params.n,
        params=operation_params,
        livemode=livemode,
        quality=params.quality,
    )


def output_size(params: SubmitParams, first: CheckedInput, scale: int | None, max_output_pixels: int) -> str:
    """The first input's size, scaled for an upscale, or the requested ``size``; never over the
    server's ``max_output_pixels``."""
    width, height = first.image.width, first.image.height
    if params.operation == "upscale":
        assert scale is not None
        width, height = width * scale, height * scale
        if width * height > max_output_pixels:
            raise unsupported(
                f"the upscaled image would be {width}×{height}, over the server's "
                f"{max_output_pixels} pixels; choose a smaller factor "
                "(rule: too_many_pixels)",
                param="factor",
                extra={"rule": "too_many_pixels"},
            )
    elif params.size not in (None, "auto"):
        try:
            width, height = parse_size(params.size or "")
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="size", code=ErrorCode.INVALID_FIELD) from exc
        if width * height > max_output_pixels or min(width, height) < 1:
            raise unsupported("size is out of range", param="size")
    return f"{width}x{height}"
