"""Usage and cost analytics for the caller's project and mode."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query

from orchestrator.accounting.money import from_micros
from orchestrator.api.deps import ReadScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.inputs import MAX_USAGE_DAYS, day_end
from orchestrator.api.schemas import UsageBucket, UsageStats
from orchestrator.db.repositories.usage import Bucket, UsageRepository
from orchestrator.errors import InvalidRequest

router = APIRouter(tags=["usage"])


def _bucket(b: Bucket) -> UsageBucket:
    return UsageBucket(
        key=b.key, generations=b.generations, images=b.images, cost=from_micros(b.cost_micros) or 0.0
    )


@router.get("/usage", operation_id="getUsage", response_model=UsageStats, responses=ERRORS)
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
            pattern=r"^(model|day|key|operation|metadata\.[A-Za-z0-9_.-]{1,64})$",
            description="Extra breakdown: `model`, `day`, `key`, `operation` or `metadata.<key>`.",
        ),
    ] = None,
) -> UsageStats:
    """Totals are exactly the sum of the stored per-generation costs (succeeded generations).
    Test keys see test-mode usage, live keys live usage: the two never mix. Without dates, the
    current month so far (UTC)."""
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
    return UsageStats(
        start_date=start_date,
        end_date=end_date,
        livemode=principal.livemode,
        total_generations=totals.generations,
        total_images=totals.images,
        total_cost=from_micros(totals.cost_micros) or 0.0,
        failed_generations=totals.failed,
        canceled_generations=totals.canceled,
        unpriced_generations=totals.unpriced,
        currency=services.catalog.currency,
        by_model=[_bucket(b) for b in by_model],
        by_day=[_bucket(b) for b in by_day],
        group_by=group_by,
        groups=None if groups is None else [_bucket(b) for b in groups],
    )
