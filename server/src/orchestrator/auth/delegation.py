"""What a key may create: never more than itself.

Test keys end up in CI logs and notebooks, so a leaked one must not be a way to mint live keys
or to lift the limits it was given. A test key creates test keys only; a created key's budget,
rate limit and concurrency cap stay within its creator's (and inherit them when unset), unless
the creator is a live admin, who sets limits for the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from orchestrator.auth.principal import Principal
from orchestrator.errors import APIError, ErrorCode, PermissionDenied


@dataclass(frozen=True, slots=True)
class KeyLimits:
    rate_limit_per_minute: int | None
    max_concurrent: int | None
    monthly_budget: Decimal | None


def _refuse(message: str, *, param: str, code: ErrorCode) -> APIError:
    return PermissionDenied(message, param=param, code=code)


def _within(requested: int | Decimal | None, own: int | Decimal | None, *, param: str, unit: str) -> None:
    if own is not None and requested is not None and requested > own:
        raise _refuse(
            f"{param} {requested}{unit} exceeds the creating key's own {own}{unit}; a key cannot create "
            "one with higher limits (a live admin key can)",
            param=param,
            code=ErrorCode.LIMIT_EXCEEDS_CREATOR,
        )


def budget_pool_for(creator: Principal) -> str | None:
    """The budget a key made by ``creator`` draws from: the creator's own pool, so a budgeted key
    and every key it makes (and they make) spend at most its budget together. Limits set by a live
    admin are the project's decision and stand alone."""
    if creator.livemode or creator.monthly_budget is None or creator.key_id is None:
        return None
    return creator.budget_pool_id or creator.key_id


def limits_for_new_key(creator: Principal, mode: str, requested: KeyLimits) -> KeyLimits:
    """The limits of a key ``creator`` asks for, or a 403 naming the field that oversteps."""
    if mode == "live" and not creator.livemode:
        raise _refuse(
            "a test key can only create test keys; use a live admin key to create live keys",
            param="mode",
            code=ErrorCode.MODE_NOT_ALLOWED,
        )
    if creator.livemode:
        return requested
    _within(requested.monthly_budget, creator.monthly_budget, param="monthly_budget", unit=" USD")
    _within(
        requested.rate_limit_per_minute, creator.rate_limit_per_minute, param="rate_limit_per_minute", unit=""
    )
    _within(requested.max_concurrent, creator.max_concurrent, param="max_concurrent", unit="")

    budget = requested.monthly_budget
    return KeyLimits(
        rate_limit_per_minute=requested.rate_limit_per_minute or creator.rate_limit_per_minute,
        max_concurrent=requested.max_concurrent or creator.max_concurrent,
        monthly_budget=creator.monthly_budget if budget is None else budget,
    )


def expiry_for_new_key(creator: Principal, requested: datetime | None) -> datetime | None:
    """A created key never outlives its creator: unset inherits the creator's expiry, later is a 403."""
    if requested is not None and requested.tzinfo is None:
        requested = requested.replace(tzinfo=UTC)
    if creator.expires_at is None:
        return requested
    if requested is None:
        return creator.expires_at
    if requested > creator.expires_at:
        raise _refuse(
            "expires_at is after the creating key's own expiry; a key cannot create one that outlives it",
            param="expires_at",
            code=ErrorCode.LIMIT_EXCEEDS_CREATOR,
        )
    return requested
