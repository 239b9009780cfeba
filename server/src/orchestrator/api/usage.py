"""Usage and cost analytics for the caller's project and mode."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from orchestrator.accounting.money import from_micros, to_micros
from orchestrator.api.deps import ReadScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.inputs import MAX_USAGE_DAYS, day_end
from orchestrator.api.presenters import from_attributes
from orchestrator.api.schemas import BudgetStatus, UsageBucket, UsageStats
from orchestrator.auth.principal import Principal
from orchestrator.db.repositories.keys import KeyRepository
from orchestrator.db.repositories.usage import GROUP_DIMENSIONS, Bucket, Spend, UsageRepository
from orchestrator.errors import InvalidRequest
from orchestrator.generation.service import month_start

router = APIRouter(tags=["usage"], responses=ERRORS)


_METADATA_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _bucket(b: Bucket) -> UsageBucket:
    return from_attributes(
        UsageBucket,
        b,
        cost=from_micros(b.cost_micros) or 0.0,
        cache_savings=from_micros(b.saved_micros) or 0.0,
    )


def _check_group_by(group_by: str) -> None:
    """A clear 422 naming the allowed values (not the pattern that encodes them)."""
    if group_by in GROUP_DIMENSIONS:
        return
    name = group_by.removeprefix("metadata.")
    if name != group_by and _METADATA_NAME.fullmatch(name):
        return
    allowed = ", ".join(f"`{d}`" for d in GROUP_DIMENSIONS)
    raise InvalidRequest(
        f"group_by must be one of {allowed} or `metadata.<name>` (name: 1-64 letters, digits, "
        f"'_', '.' or '-'); got {group_by[:80]!r}",
        param="group_by",
    )


def _status(
    scope: Literal["key", "pool"], key_id: str, budget_micros: int, spend: Spend, start: datetime
) -> BudgetStatus:
    left = max(budget_micros - spend.spent_micros - spend.reserved_micros, 0)
    return BudgetStatus(
        scope=scope,
        key_id=key_id,
        monthly_budget=from_micros(budget_micros) or 0.0,
        spent=from_micros(spend.spent_micros) or 0.0,
        reserved=from_micros(spend.reserved_micros) or 0.0,
        remaining=from_micros(left) or 0.0,
        period_start=start.date(),
    )


async def _budgets(repo: UsageRepository, keys: KeyRepository, principal: Principal) -> list[BudgetStatus]:
    """This month's budget of the calling key and of the pool it draws from, where set."""
    start = month_start(datetime.now(UTC))
    out: list[BudgetStatus] = []
    if principal.key_id is not None and principal.monthly_budget is not None:
        spend = await repo.key_spend([principal.key_id], start)
        out.append(_status("key", principal.key_id, to_micros(principal.monthly_budget), spend, start))
    if principal.budget_pool_id is not None:
        pool_budget = await keys.budget_micros(principal.budget_pool_id)
        if pool_budget is not None:
            spend = await repo.pool_spend(principal.budget_pool_id, start)
            out.append(_status("pool", principal.budget_pool_id, pool_budget, spend, start))
    return out


@router.get("/usage", operation_id="getUsage", response_model=UsageStats)
async def get_usage(
    principal: ReadScope,
    services: ServicesDep,
    start_date: Annotated[
        date | None,
        Query(description="First day, inclusive (UTC). Default: the first day of end_date's month."),
    ] = None,
    end_date: Annotated[
        date | None,
        Query(
            description=f"Last day, inclusive (UTC). Default: today (UTC). Not before start_date, "
            f"and at most {MAX_USAGE_DAYS} days after it (422 otherwise)."
        ),
    ] = None,
    group_by: Annotated[
        str | None,
        Query(
            max_length=80,
            description=f"Extra breakdown: {', '.join(f'`{d}`' for d in GROUP_DIMENSIONS)} or "
            "`metadata.<key>` (422 otherwise). `key` buckets carry the key's name.",
        ),
    ] = None,
) -> UsageStats:
    """`total_generations` counts every generation created in the range, whatever its status (the
    same count as the history for that range); `succeeded_generations`, `failed_generations`,
    `canceled_generations` and `active_generations` split it. Images and costs are exactly the sum
    of the stored per-generation costs of succeeded generations. Test keys see test-mode usage, live
    keys live usage: the two never mix. `storage_bytes` is what those generations keep stored
    (images and stored inputs). Without dates, the current month so far (UTC). `budget`
    shows this month's spend against the calling key's budget (and its pool's), where set."""
    if group_by is not None:
        _check_group_by(group_by)
    if end_date is None:
        end_date = datetime.now(UTC).date()
    if start_date is None:
        start_date = end_date.replace(day=1)
    if end_date < start_date:
        raise InvalidRequest("end_date must not be before start_date", param="end_date")
    if (end_date - start_date).days > MAX_USAGE_DAYS:
        raise InvalidRequest(f"the range may span at most {MAX_USAGE_DAYS} days", param="end_date")
    start = datetime.combine(start_date, time.min, UTC)
    end = day_end(end_date)
    async with services.db.read() as session:
        repo = UsageRepository(session)
        totals = await repo.totals(principal.project, principal.livemode, start, end)
        by_model = await repo.grouped(principal.project, principal.livemode, start, end, "model")
        by_day = await repo.grouped(principal.project, principal.livemode, start, end, "day")
        groups = None
        if group_by is not None:
            groups = {"model": by_model, "day": by_day}.get(group_by) or await repo.grouped(
                principal.project, principal.livemode, start, end, group_by
            )
        budgets = await _budgets(repo, KeyRepository(session), principal)
        storage_bytes = await repo.storage_bytes(principal.project, principal.livemode, start, end)
    return UsageStats(
        start_date=start_date,
        end_date=end_date,
        livemode=principal.livemode,
        total_generations=totals.generations,
        succeeded_generations=totals.succeeded,
        active_generations=totals.active,
        total_images=totals.images,
        total_cost=from_micros(totals.cost_micros) or 0.0,
        failed_generations=totals.failed,
        canceled_generations=totals.canceled,
        unpriced_generations=totals.unpriced,
        storage_bytes=storage_bytes,
        cached_generations=totals.cached,
        cache_savings=from_micros(totals.saved_micros) or 0.0,
        currency=services.catalog.currency,
        by_model=[_bucket(b) for b in by_model],
        by_day=[_bucket(b) for b in by_day],
        group_by=group_by,
        groups=None if groups is None else [_bucket(b) for b in groups],
        budget=budgets,
    )
