"""What a budgeted request reserves before it runs.

A job may fall back from one route to another, and each route may have its own price, so the
reservation is the highest price among the routes that may serve it; the runner then charges
what the serving route costs, releasing the difference. A request none of whose possible routes
has a known price cannot be checked against a budget at all, so a budgeted key is refused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from orchestrator.catalog.catalog import ModelSpec, Route, route_price
from orchestrator.errors import APIError


def reservation_price(
    model: ModelSpec, routes: Sequence[Route], size: str, quality: str, n: int
) -> Decimal | None:
    """The most any of ``routes`` would charge for the request; None when any price is unknown."""
    prices = [route_price(model, route, size, quality, n) for route in routes]
    if not prices or any(price is None for price in prices):
        return None
    return max(price for price in prices if price is not None)


class PriceUnknown(APIError):
    """A budgeted key asked for something the catalog has no price for."""

    status_code = 422
    code = "price_unknown"


def require_known_price(
    price: Decimal | None, *, budgeted: bool, model: str, size: str, quality: str
) -> None:
    """Refuse an unpriced request for a key with a budget: it could not be checked, never admit it."""
    if budgeted and price is None:
        raise PriceUnknown(
            f"the catalog has no price for {model} at size {size}, quality {quality}; a key with a "
            "monthly budget can only run priced requests (choose another size or quality, or use a "
            "key without a budget)",
            param="size",
        )
