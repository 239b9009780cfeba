"""A generation request resolved once, at submission: model, routes, size, quality, style, price.

The submit path validates the caller's fields (``validation.py``), then :meth:`Planner.plan` turns
them into a :class:`ResolvedRequest`: the usable routes in order, each priced. The quote stored on
the job is the first route's price; the runner gets the same object and charges the price of the
route that served, so nothing is resolved or priced twice. A job claimed from the queue (another
process, or after a restart) is planned from its stored row by the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orchestrator.accounting.money import to_micros
from orchestrator.catalog.catalog import Catalog, Route, parse_size, route_price
from orchestrator.db.models import Generation
from orchestrator.errors import ModelNotAvailable
from orchestrator.generation.routing import Router
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

    def plan_stored(self, job: Generation) -> ResolvedRequest:
        """Plan a job claimed from the queue, from the fields stored when it was submitted."""
        model = self.catalog.get(job.model)
        if model is None:
            raise NoRoute(f"model {job.model!r} is no longer in the catalog")
        return self._plan(
            ResolvedParams(model, job.size, job.quality, job.style, job.n), livemode=job.livemode
        )

    def _plan(self, fields: ResolvedParams, *, livemode: bool) -> ResolvedRequest:
        model, size, quality, n = fields.model, fields.size, fields.quality, fields.n
        routes = tuple(
            PricedRoute(c.route, c.provider, route_price(model, c.route, size, quality, n))
            for c in self.router.routes(model, livemode=livemode)
        )
        # Test-mode jobs are quoted what the live request would cost, as they always were.
        quoted = route_price(model, self.router.price_route(model), size, quality, n)
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
        )
