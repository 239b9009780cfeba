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
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.db.repositories.keys import KeyRepository


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    allowed: bool
    spent_micros: int
    """Spent or reserved this period before this request."""


class BudgetLedger(Protocol):
    async def reserve(
        self, session: AsyncSession, *, api_key_id: str, cost_micros: int, budget_micros: int, since: datetime
    ) -> BudgetCheck:
        """Admit ``cost_micros`` against the budget inside the transaction that writes the job."""
        ...


class DatabaseBudgetLedger:
    async def reserve(
        self, session: AsyncSession, *, api_key_id: str, cost_micros: int, budget_micros: int, since: datetime
    ) -> BudgetCheck:
        await KeyRepository(session).lock(api_key_id)
        spent = await GenerationRepository(session).committed_spend(api_key_id=api_key_id, since=since)
        return BudgetCheck(spent + cost_micros <= budget_micros, spent)
