"""Who is calling: the tenant (project), mode, scopes and limits of an authenticated request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

SCOPES = ("generate", "read", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    project: str
    livemode: bool
    scopes: frozenset[str]
    subject: str
    """Stable id for limits: the key id, or ``jwt:<sub>`` for bearer tokens."""
    key_id: str | None = None
    rate_limit_per_minute: int | None = None
    max_concurrent: int | None = None
    monthly_budget: Decimal | None = None
    expires_at: datetime | None = None
    """When the key stops working (None: never)."""
    budget_pool_id: str | None = None
    """The key whose budget this key's spending also draws from (set for keys a budgeted key made)."""
    cache_default: bool = False
    """The key opts its seeded requests in to the result cache (a request's ``cache`` overrides it)."""

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes
