"""The model catalog: loading ``models.yaml``, validating requests against it, and pricing."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

PriceTable = dict[str, dict[str, Decimal]]
"""USD per image: size (or "*") -> quality (or "*") -> price. For ``upscale`` the first key is
the factor (``"2x"``, ``"4x"``, …) instead of the size."""

OPERATIONS = ("generate", "edit", "variation", "upscale", "remove_background", "image_to_image")
"""The operation names (``providers.base.Operation``'s values), in the catalog's vocabulary."""

OUTPUT_OPTIONS = ("background", "output_format", "output_compression", "moderation")
"""gpt-image's output options; a model declares the ones its routes honour."""


class OperationSpec(BaseModel):
    """What one image operation accepts on a model, and what it costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_images: int = Field(default=1, ge=1, le=16)
    """Input images accepted (``edit`` on gpt-image takes up to 16)."""
    mask: bool = False
    """Whether an ``edit`` may carry a mask."""
    prompt: bool = True
    """Whether the operation takes a prompt (variation, upscale and remove_background need none)."""
    factors: list[int] = Field(default_factory=list)
    """``upscale``: the allowed factors."""
    strength: tuple[float, float] | None = None
    """``image_to_image``: the allowed strength range."""
    default_strength: float | None = None
    max_n: int = 1
    pricing: PriceTable = Field(default_factory=dict)


class Route(BaseModel):
    """One way to serve a public model: a provider, its model id and parameter mappings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    native_styles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    quality_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    pricing: PriceTable | None = None
    """Overrides the model's price table when this route serves."""
    operations: dict[str, str] = Field(default_factory=dict)
    """The image operations this route serves, each with the provider's model (or endpoint) for it."""
    text_to_image: bool = True
    """False for a route that only serves operations."""

    def supports(self, operation: str) -> bool:
        return self.text_to_image if operation == "generate" else operation in self.operations

    def provider_model(self, operation: str) -> str:
        return self.model if operation == "generate" else self.operations.get(operation) or self.model


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    sizes: list[str] = Field(default_factory=lambda: ["1024x1024"])
    qualities: list[str] = Field(default_factory=lambda: ["standard"])
    styles: list[str] = Field(default_factory=list)
    text_to_image: bool = True
    """False for models that only transform images (upscalers, background removers)."""
    operations: dict[str, OperationSpec] = Field(default_factory=dict)
    """Image operations beyond text to image, with their parameters and prices."""
    output_options: list[str] = Field(default_factory=list)
    """Which of :data:`OUTPUT_OPTIONS` the model's routes honour."""
    default_size: str | None = None
    default_quality: str | None = None
    default_style: str | None = None
    max_n: int = 1
    supports_seed: bool = True
    supports_negative_prompt: bool = False
    notes: str | None = None
    pricing: PriceTable = Field(default_factory=dict)
    routes: list[Route]

    @field_validator("sizes")
    @classmethod
    def _sizes_are_wxh(cls, sizes: list[str]) -> list[str]:
        for size in sizes:
            parse_size(size)
        return sizes

    @field_validator("operations")
    @classmethod
    def _known_operations(cls, operations: dict[str, OperationSpec]) -> dict[str, OperationSpec]:
        for name in operations:
            if name not in OPERATIONS or name == "generate":
                raise ValueError(f"unknown operation {name!r}")
        return operations

    @field_validator("output_options")
    @classmethod
    def _known_options(cls, options: list[str]) -> list[str]:
        for name in options:
            if name not in OUTPUT_OPTIONS:
                raise ValueError(f"unknown output option {name!r}")
        return options

    def supports(self, operation: str) -> bool:
        return self.text_to_image if operation == "generate" else operation in self.operations

    @property
    def operation_names(self) -> list[str]:
        return (["generate"] if self.text_to_image else []) + list(self.operations)

    @property
    def size(self) -> str:
        return self.default_size or self.sizes[0]

    @property
    def quality(self) -> str:
        return self.default_quality or self.qualities[0]

    @property
    def max_resolution(self) -> str:
        return max(self.sizes, key=lambda s: _area(parse_size(s)))

    @property
    def providers(self) -> list[str]:
        return list(dict.fromkeys(route.provider for route in self.routes))


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    price_version: str
    currency: str = "USD"
    style_templates: dict[str, str]
    models: dict[str, ModelSpec]

    def get(self, name: str) -> ModelSpec | None:
        return self.models.get(name)

    def models_for(self, operation: str) -> list[str]:
        """The models that support ``operation``, by name."""
        return sorted(name for name, spec in self.models.items() if spec.supports(operation))

    def styled_prompt(self, prompt: str, style: str | None, route: Route) -> str:
        """The prompt to send: styles without a native parameter on the route become a template."""
        if style is None or style in route.native_styles:
            return prompt
        template = self.style_templates.get(style)
        return template.format(prompt=prompt) if template else prompt


def parse_size(size: str) -> tuple[int, int]:
    """``"1024x768"`` -> ``(1024, 768)``; raises ``ValueError`` for anything else."""
    width, sep, height = size.partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"size must look like WIDTHxHEIGHT, got {size!r}")
    return int(width), int(height)


def _area(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def price_per_image(table: PriceTable, size: str, quality: str) -> Decimal | None:
    """Look a price up by (size, quality), with "*" as the wildcard. ``None`` means unknown."""
    for size_key in (size, "*"):
        row = table.get(size_key)
        if row is None:
            continue
        for quality_key in (quality, "*"):
            if quality_key in row:
                return Decimal(str(row[quality_key]))
    return None


def route_price(model: ModelSpec, route: Route, size: str, quality: str, n: int) -> Decimal | None:
    """Total price of ``n`` images served by ``route``."""
    table = route.pricing if route.pricing is not None else model.pricing
    unit = price_per_image(table, size, quality)
    return None if unit is None else unit * n


def operation_price(
    model: ModelSpec, operation: str, route: Route, key: str, quality: str, n: int
) -> Decimal | None:
    """Total price of ``n`` results of ``operation`` (``key``: the output size, or the factor)."""
    if operation == "generate":
        return route_price(model, route, key, quality, n)
    spec = model.operations.get(operation)
    if spec is None:
        return None
    unit = price_per_image(spec.pricing, key, quality)
    return None if unit is None else unit * n


def load_catalog(path: Path | None = None) -> Catalog:
    """Load the shipped catalog, or an operator's own file."""
    if path is None:
        text = resources.files("orchestrator.catalog").joinpath("models.yaml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    # libyaml's safe loader when PyYAML has it (10x faster; every app start and CLI run loads this).
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    models = {name: {"name": name, **spec} for name, spec in raw.get("models", {}).items()}
    return Catalog.model_validate({**raw, "models": models})
