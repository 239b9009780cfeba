"""The model catalog with live availability and measured average times."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from orchestrator.api.deps import ReadScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.schemas import ModelInfo, ModelList, OperationInfo
from orchestrator.catalog.catalog import ModelSpec, PriceTable, price_per_image
from orchestrator.container import Services
from orchestrator.errors import ModelNotAvailable

router = APIRouter(tags=["models"], responses=ERRORS)


def model_info(spec: ModelSpec, services: Services, average: float | None, livemode: bool) -> ModelInfo:
    route = services.router.price_route(spec)
    table = route.pricing if route.pricing is not None else spec.pricing
    unit = price_per_image(table, spec.size, spec.quality)
    reason = services.router.unavailable_reason(spec) if livemode else None
    return ModelInfo(
        name=spec.name,
        description=spec.description,
        text_to_image=spec.text_to_image,
        max_resolution=spec.max_resolution,
        supported_styles=spec.styles,
        supported_sizes=spec.sizes,
        supported_qualities=spec.qualities,
        default_size=spec.size,
        default_quality=spec.quality,
        default_style=spec.default_style,
        pricing_per_image=None if unit is None else float(unit),
        pricing=_table(table),
        currency=services.catalog.currency,
        average_time=None if average is None else round(average, 3),
        max_images=min(spec.max_n, services.settings.max_images_per_request),
        supports_seed=spec.supports_seed,
        supports_negative_prompt=spec.supports_negative_prompt,
        providers=spec.providers,
        available=reason is None,
        unavailable_reason=reason,
        notes=spec.notes,
        operations=operations_info(spec, services.settings.max_images_per_request),
    )


def _table(table: PriceTable) -> dict[str, dict[str, float]]:
    return {key: {q: float(p) for q, p in row.items()} for key, row in table.items()}


def operations_info(spec: ModelSpec, max_per_request: int) -> dict[str, OperationInfo]:
    """The model's image operations as the catalog declares them (the same entries the submit
    path validates against, so what is listed here is what a request may ask for)."""
    found: dict[str, OperationInfo] = {}
    for name, op in spec.operations.items():
        # Upscales are priced by factor, the others by output size (see ``Planner._plan``).
        key = f"{min(op.factors)}x" if name == "upscale" and op.factors else spec.size
        unit = price_per_image(op.pricing, key, spec.quality)
        found[name] = OperationInfo(
            max_input_images=op.max_images,
            mask=op.mask,
            prompt=op.prompt,
            factors=list(op.factors) if name == "upscale" else None,
            strength=list(op.strength) if op.strength is not None else None,
            default_strength=op.default_strength,
            max_images=min(op.max_n, max_per_request),
            price=None if unit is None else float(unit),
            pricing=_table(op.pricing),
            providers=list(dict.fromkeys(r.provider for r in spec.routes if r.supports(name))),
        )
    return found


async def _averages(services: Services, names: list[str], livemode: bool) -> dict[str, float]:
    return await services.reading.average_times(names, livemode=livemode)


@router.get("/models", operation_id="listModels", response_model=ModelList)
async def list_models(principal: ReadScope, services: ServicesDep) -> ModelList:
    """Every catalog model. `available` says whether this key can use it now (test keys: always);
    `operations` lists the image operations it offers, with their parameters and prices."""
    names = list(services.catalog.models)
    averages = await _averages(services, names, principal.livemode)
    return ModelList(
        data=[
            model_info(services.catalog.models[n], services, averages.get(n), principal.livemode)
            for n in names
        ]
    )


@router.get("/models/{name}", operation_id="getModel", response_model=ModelInfo)
async def get_model(
    name: Annotated[str, Path(examples=["dall-e-3"])], principal: ReadScope, services: ServicesDep
) -> ModelInfo:
    spec = services.catalog.get(name)
    if spec is None:
        raise ModelNotAvailable(
            f"model {name!r} does not exist; available models: {', '.join(sorted(services.catalog.models))}",
            param="name",
        )
    averages = await _averages(services, [name], principal.livemode)
    return model_info(spec, services, averages.get(name), principal.livemode)
