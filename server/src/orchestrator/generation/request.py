"""A generation request resolved once, at submission: model, routes, size, quality, style, price.

The submit path validates the caller's fields (``validation.py``), then :meth:`Planner.plan` turns
them into a :class:`ResolvedRequest`: the usable routes in order, each priced. The quote stored on
the job is the first route's price; the runner gets the same object and charges the price of the
route that served, so nothing is resolved or priced twice. A job claimed from the queue (another
process, or after a restart) is planned from its stored row by the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orchestrator.accounting.money import to_micros
from orchestrator.catalog.catalog import Catalog, ModelSpec, Route, operation_price, parse_size
from orchestrator.db.models import Generation
from orchestrator.errors import ModelNotAvailable
from orchestrator.generation.routing import OFFLINE_ROUTE, Router
from orchestrator.generation.validation import ResolvedParams
from orchestrator.providers.base import Provider


@dataclass(frozen=True, slots=True)
class PricedRoute:
    route: Route
    provider: Provider
    price: Decimal | None
    """What ``n`` images cost when this route serves them (None: unknown, never 0)."""


@dataclass(frozen=True, slots=True)
class ResolvedRequest(ResolvedParams):
    width: int
    height: int
    routes: tuple[PricedRoute, ...]
    """Usable routes in the order they are tried (test mode: the offline renderer)."""
    price: Decimal | None
    """The quote: the first usable route's price (the model's first route when none is usable)."""
    price_version: str
    operation: str = "generate"
    operation_params: dict[str, Any] = field(default_factory=dict)
    """``factor``, ``strength`` and the output options, as stored on the job (``scale`` in jobs
    stored before ``factor`` took the request's name)."""
    budgeted: bool = True
    """False when the submitting key has no budget and draws on no pool's: settling the job's
    charge can cross no budget threshold, so the finish skips looking the key up. A job planned
    from its stored row (claimed from the queue) does not know, and looks."""

    @property
    def price_micros(self) -> int | None:
        return None if self.price is None else to_micros(self.price)

    def price_of(self, route: Route) -> int | None:
        """The charge when ``route`` (one of :attr:`routes`) served, in micro-dollars."""
        for priced in self.routes:
            if priced.route is route:
                return None if priced.price is None else to_micros(priced.price)
        raise ValueError(f"route {route.provider}/{route.model} is not one of this request's routes")


class NoRoute(Exception):
    """No configured provider can serve the model (live mode)."""


class Planner:
    """The one place that picks a request's routes and prices them."""

    def __init__(self, catalog: Catalog, router: Router) -> None:
        self.catalog = catalog
        self.router = router

    def plan(self, params: ResolvedParams, *, livemode: bool) -> ResolvedRequest:
        """Plan validated fields; in live mode, refuse a model no configured provider serves."""
        if livemode:
            reason = self.router.unavailable_reason(params.model)
            if reason is not None:
                raise ModelNotAvailable(reason, param="model", status_code=503)
        return self._plan(params, livemode=livemode)

    def plan_operation(
        self,
        model: ModelSpec,
        operation: str,
        *,
        size: str,
        n: int,
        params: dict[str, Any],
        livemode: bool,
        quality: str | None = None,
    ) -> ResolvedRequest:
        """Plan an image operation already validated (``validation.resolve_operation``)."""
        if livemode:
            reason = self.unavailable_reason(model, operation)
            if reason is not None:
                raise ModelNotAvailable(reason, param="model", status_code=503)
        fields = ResolvedParams(model, size, quality or model.quality, None, n)
        return self._plan(fields, livemode=livemode, operation=operation, params=params)

    def unavailable_reason(self, model: ModelSpec, operation: str) -> str | None:
        if operation == "generate":
            return self.router.unavailable_reason(model)
        if any(c.route.supports(operation) for c in self.router.routes(model, livemode=True)):
            return None
        reason = self.router.unavailable_reason(model)
        return reason or f"no configured provider serves {operation} for {model.name}"

    def plan_stored(self, job: Generation) -> ResolvedRequest:
        """Plan a job claimed from the queue, from the fields stored when it was submitted."""
        model = self.catalog.get(job.model)
        if model is None:
            raise NoRoute(f"model {job.model!r} is no longer in the catalog")
        return self._plan(
            ResolvedParams(model, job.size, job.quality, job.style, job.n),
            livemode=job.livemode,
            operation=job.operation or "generate",
            params=dict(job.operation_params or {}),
        )

    def _plan(
        self,
        fields: ResolvedParams,
        *,
        livemode: bool,
        operation: str = "generate",
        params: dict[str, Any] | None = None,
    ) -> ResolvedRequest:
        model, size, quality, n = fields.model, fields.size, fields.quality, fields.n
        params = params or {}
        # Upscales are priced by factor; every other operation by its output size.
        key = f"{params.get('factor', params.get('scale'))}x" if operation == "upscale" else size
        # Fallback only moves between routes that serve the operation (test mode: the renderer).
        routes = tuple(
            PricedRoute(c.route, c.provider, operation_price(model, operation, c.route, key, quality, n))
            for c in self.router.routes(model, livemode=livemode)
            if c.route is OFFLINE_ROUTE or c.route.supports(operation)
        )
        # Test-mode jobs are quoted what the live request would cost, as they always were.
        quoted = operation_price(model, operation, self._price_route(model, operation), key, quality, n)
        return ResolvedRequest(
            model,
            size,
            quality,
            fields.style,
            n,
            *parse_size(size),
            routes,
            quoted,
            self.catalog.price_version,
            operation,
            params,
        )

    def _price_route(self, model: ModelSpec, operation: str) -> Route:
        if operation == "generate":
            return self.router.price_route(model)
        usable = [c.route for c in self.router.routes(model, livemode=True) if c.route.supports(operation)]
        return (usable or [r for r in model.routes if r.supports(operation)] or model.routes)[0]
