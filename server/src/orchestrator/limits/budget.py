"""Monthly budgets: a request may only be admitted if its price still fits.

The reservation *is* the queued job row: spend counts queued, running and succeeded jobs, so the
check and the insert must happen in one transaction with no other submission of the same key in
between, in any process. :class:`DatabaseBudgetLedger` makes that so by locking the key's row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has a single writer): one atomic operation per
request, exact across any number of processes, with nothing to keep in sync outside the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounting.money import from_micros
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.db.repositories.keys import KeyRepository
from orchestrator.errors import BudgetExceeded


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    allowed: bool
    spent_micros: int
    """Spent or reserved this period before this request (of the budget that refused, if one did)."""
    limit_micros: int = 0
    """The budget that decided: the key's own, or its pool's when ``pooled``."""
    pooled: bool = False
    """The refusal came from the budget of the key this one draws from."""


class DatabaseBudgetLedger:
    """Checks the key's own budget and, for a key made by a budgeted key, the pool it draws from
    (its root creator's budget, shared by every key in that tree)."""

    async def reserve(
        self,
        session: AsyncSession,
        *,
        api_key_id: str,
        cost_micros: int,
        budget_micros: int,
        since: datetime,
        pool_id: str | None = None,
    ) -> BudgetCheck:
        """Admit ``cost_micros`` against the budget inside the transaction that writes the job."""
        keys, jobs = KeyRepository(session), GenerationRepository(session)
        # Every key of a pool locks the pool's row first: one order, so no deadlock, and the
        # pool's members are serialised with each other across processes.
        if pool_id is not None:
            await keys.lock(pool_id)
        await keys.lock(api_key_id)
        spent = await jobs.committed_spend(api_key_id=api_key_id, since=since)
        if spent + cost_micros > budget_micros:
            return BudgetCheck(False, spent, budget_micros)
        if pool_id is not None:
            pool_budget = await keys.budget_micros(pool_id)
            if pool_budget is not None:
                pool_spent = await jobs.pool_spend(pool_id=pool_id, since=since)
                if pool_spent + cost_micros > pool_budget:
                    return BudgetCheck(False, pool_spent, pool_budget, pooled=True)
        return BudgetCheck(True, spent, budget_micros)


def budget_exceeded(check: BudgetCheck, price: Decimal) -> BudgetExceeded:
    """The 402 for a refused reservation, naming whose budget refused it."""
    budget, spent = from_micros(check.limit_micros), from_micros(check.spent_micros)
    whose = (
        "the monthly budget this key draws from (its creating key's, shared by every key it made)"
        if check.pooled
        else "this key's monthly budget"
    )
    return BudgetExceeded(
        f"{whose} of ${budget} would be exceeded: ${spent} spent or reserved this month, this "
        f"request reserves ${price} (the highest price among the routes that may serve it)",
        extra={"budget": budget, "spent": spent},
    )
