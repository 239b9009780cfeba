"""Budget alerts: a ``budget.threshold_crossed`` webhook event and a log line when a monthly budget's
settled spend reaches 50, 80 and 100 %, once per threshold and budget month.

:func:`record_budget_crossings` runs in the transaction that settles a charge (a job's success),
after the job's row is written. It writes one ``budget_alerts`` row per threshold reached and not
yet recorded, and the webhook outbox rows with it; the row's unique key (scope, key, month,
threshold) is what makes an alert happen once, whatever restarts, retries or other processes do.
The budget rows are locked as the budget ledger locks them (the pool's first), so two settlements
of one budget never both miss a crossing their charges make together.

Budgets are the ones the ledger enforces: a key's own (scope ``key``) and the pool a key draws
from (scope ``pool``: its budgeted creator's budget, shared by every key in that tree). Spend is
what succeeded jobs created in the month were charged; reservations of jobs still running do not
count until they settle (a failed or canceled job never does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounting.money import from_micros
from orchestrator.db.models import BudgetAlert, Generation
from orchestrator.db.repositories.budgets import BudgetRepository, KeyBudget
from orchestrator.db.repositories.keys import KeyRepository
from orchestrator.ids import new_id
from orchestrator.webhooks.events import budget_event
from orchestrator.webhooks.outbox import enqueue_event

logger = logging.getLogger(__name__)

THRESHOLDS = (50, 80, 100)
"""Percent of a monthly budget at which an alert is sent."""


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The budget month (UTC) ``moment`` falls in: its first instant and the next month's."""
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


async def record_budget_crossings(
    session: AsyncSession, job: Generation, cost_micros: int | None, now: datetime
) -> list[BudgetAlert]:
    """Record the thresholds that settling ``job`` at ``cost_micros`` makes its budgets reach
    (several at once when one charge jumps over them), with their webhook events; log them once
    the transaction commits. Returns the new alerts (none for an unbudgeted or free job)."""
    if not cost_micros or job.api_key_id is None:
        return []
    repo = BudgetRepository(session)
    key = await repo.key(job.api_key_id)
    if key is None:
        return []
    budgets = await _budgets(repo, key)
    if not budgets:
        return []
    keys = KeyRepository(session)
    for pool_id in dict.fromkeys(b.id for _, b in budgets if b.id != key.id):
        await keys.lock(pool_id)  # the pool's row before the key's, as the ledger takes them
    await keys.lock(key.id)
    start, end = month_bounds(job.created_at)
    alerts: list[BudgetAlert] = []
    for scope, owner in budgets:
        assert owner.budget_micros is not None
        spent = await repo.settled_spend(key_id=owner.id, pooled=scope == "pool", start=start, end=end)
        for threshold in THRESHOLDS:
            if spent * 100 < owner.budget_micros * threshold:
                break
            alert = BudgetAlert(
                id=new_id("bal"),
                project=job.project,
                scope=scope,
                scope_id=owner.id,
                period_start=start,
                threshold=threshold,
                spent_micros=spent,
                budget_micros=owner.budget_micros,
                generation_id=job.id,
                created_at=now,
            )
            if not await repo.record_alert(alert):
                continue  # recorded by an earlier charge: sent then
            payload = budget_event(
                alert, key_name=owner.name, currency=job.currency, livemode=job.livemode, now=now
            )
            await enqueue_event(session, project=job.project, livemode=job.livemode, event=payload, now=now)
            alerts.append(alert)
    if alerts:
        _log_after_commit(session, alerts, names={owner.id: owner.name for _, owner in budgets})
    return alerts


async def _budgets(repo: BudgetRepository, key: KeyBudget) -> list[tuple[str, KeyBudget]]:
    """The budgets a charge of ``key`` counts against: its own, and its pool's (the pool it draws
    from, or the one it owns: a budgeted key's own jobs count in the pool its keys share)."""
    found: list[tuple[str, KeyBudget]] = []
    if key.budget_micros is not None:
        found.append(("key", key))
    pool: KeyBudget | None = None
    if key.pool_id is not None:
        pool = await repo.key(key.pool_id)
    elif key.budget_micros is not None and await repo.owns_pool(key.id):
        pool = key
    if pool is not None and pool.budget_micros is not None:
        found.append(("pool", pool))
    return found


def _log_after_commit(session: AsyncSession, alerts: Sequence[BudgetAlert], *, names: dict[str, str]) -> None:
    """One log line per alert, once the alert is committed (a rolled-back charge crossed nothing)."""
    lines: list[tuple[int, dict[str, Any]]] = [
        (
            logging.WARNING if alert.threshold >= 100 else logging.INFO,
            {
                "scope": alert.scope,
                "key_id": alert.scope_id,
                "key_name": names.get(alert.scope_id, ""),
                "threshold": alert.threshold,
                "spent": from_micros(alert.spent_micros),
                "budget": from_micros(alert.budget_micros),
                "period_start": alert.period_start.date().isoformat(),
                "generation_id": alert.generation_id,
            },
        )
        for alert in alerts
    ]

    def log(_session: Any) -> None:
        for level, fields in lines:
            logger.log(level, "budget threshold crossed", extra=fields)

    event.listen(session.sync_session, "after_commit", log, once=True)
