"""A key-create request (``KeyCreate``) as a new key: one path for ``POST /api/v1/keys`` and
``orchestrator keys create``. Kept apart from the router so the CLI loads no web framework."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from orchestrator.api.schemas import KeyCreate
from orchestrator.auth.delegation import KeyLimits
from orchestrator.auth.service import KeyService, NewKey


def requested_limits(body: KeyCreate) -> KeyLimits:
    """The limits a create request asks for (the creating key may cap them: ``limits_for_new_key``)."""
    return KeyLimits(
        rate_limit_per_minute=body.rate_limit_per_minute,
        max_concurrent=body.max_concurrent,
        monthly_budget=None if body.monthly_budget is None else Decimal(str(body.monthly_budget)),
    )


async def create_from_request(
    keys: KeyService,
    body: KeyCreate,
    *,
    project: str,
    limits: KeyLimits,
    expires_at: datetime | None = None,
    budget_pool_id: str | None = None,
) -> NewKey:
    """Create the key ``body`` describes, with ``limits``: one path for ``POST /api/v1/keys`` and
    ``orchestrator keys create``."""
    return await keys.create(
        project=project,
        name=body.name,
        mode=body.mode,
        scopes=list(body.scopes),
        rate_limit_per_minute=limits.rate_limit_per_minute,
        max_concurrent=limits.max_concurrent,
        monthly_budget=limits.monthly_budget,
        expires_at=expires_at,
        budget_pool_id=budget_pool_id,
        cache_default=body.cache or None,
    )
