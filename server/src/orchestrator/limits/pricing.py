"""What a budgeted request reserves before it runs.

A job may fall back from one route to another, and each route may have its own price, so the
reservation is the highest price among the routes that may serve it; the runner then charges
what the serving route costs, releasing the difference. A request none of whose possible routes
has a known price cannot be checked against a budget at all, so a budgeted key is refused it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from orchestrator.errors import InvalidRequest


def reservation_price(prices: Iterable[Decimal | None]) -> Decimal | None:
    """The most any route that may serve the request would charge (its quote included); None when
    any of those prices is unknown."""
    known = list(prices)
    if not known or any(price is None for price in known):
        return None
    return max(price for price in known if price is not None)


def require_known_price(
    price: Decimal | None, *, budgeted: bool, model: str, size: str, quality: str
) -> None:
    """Refuse an unpriced request for a key with a budget: it could not be checked, never admit it."""
    if budgeted and price is None:
        raise InvalidRequest(
            f"the catalog has no price for {model} at size {size}, quality {quality}; a key with a "
            "monthly budget can only run priced requests (choose another size or quality, or use a "
            "key without a budget)",
            param="size",
        )
