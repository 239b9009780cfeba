"""All SQL about monthly budgets being settled: whose budget a charge counts against, what was
settled in a period, and the alert rows that make each threshold crossing happen once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from orchestrator.core.states import JobStatus
from orchestrator.db.models import ApiKey, BudgetAlert, Generation
from orchestrator.db.repositories.base import Repository


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """What a key's charges count against: its own budget, and the pool it draws from."""

    id: str
    name: str
    budget_micros: int | None
    pool_id: str | None


class BudgetRepository(Repository):
    async def key(self, key_id: str) -> KeyBudget | None:
        row = (
            await self.session.execute(
                select(ApiKey.id, ApiKey.name, ApiKey.monthly_budget_micros, ApiKey.budget_pool_id).where(
                    ApiKey.id == key_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return KeyBudget(id=row[0], name=row[1], budget_micros=row[2], pool_id=row[3])

    async def owns_pool(self, key_id: str) -> bool:
        """Whether some key draws from ``key_id``'s budget (it made them while budgeted)."""
        return bool(await self.session.scalar(select(exists().where(ApiKey.budget_pool_id == key_id))))

    async def settled_spend(self, *, key_id: str, pooled: bool, start: datetime, end: datetime) -> int:
        """Micro-dollars charged (succeeded jobs only) for jobs created in ``[start, end)``: of
        the key alone, or with ``pooled`` of the pool it owns (itself and every key drawing from it)."""
        who = (
            Generation.api_key_id.in_(
                select(ApiKey.id).where(or_(ApiKey.id == key_id, ApiKey.budget_pool_id == key_id))
            )
            if pooled
            else Generation.api_key_id == key_id
        )
        value = await self.session.scalar(
            select(func.coalesce(func.sum(Generation.cost_micros), 0)).where(
                who,
                Generation.status == JobStatus.SUCCEEDED,
                Generation.created_at >= start,
                Generation.created_at < end,
            )
        )
        return int(value or 0)

    async def record_alert(self, alert: BudgetAlert) -> bool:
        """Insert ``alert`` unless its (scope, scope id, period, threshold) is already recorded;
        True if this call recorded it. A conflict is not an error: the alert happened already."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values = {column.key: getattr(alert, column.key) for column in BudgetAlert.__table__.columns}
        stmt = (
            insert(BudgetAlert)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["scope", "scope_id", "period_start", "threshold"])
            .returning(BudgetAlert.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None
