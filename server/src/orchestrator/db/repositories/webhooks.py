"""All SQL about webhook endpoints and the delivery outbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import Generation, WebhookDelivery, WebhookEndpoint
from orchestrator.ids import new_id
from orchestrator.webhooks.events import generation_event


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: str
    endpoint_id: str
    url: str
    secret: str
    payload: str
    attempts: int
    created_at: datetime


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.session.add(endpoint)
        await self.session.flush()

    async def endpoints(self, *, project: str, livemode: bool) -> list[WebhookEndpoint]:
        rows = await self.session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.project == project, WebhookEndpoint.livemode == livemode)
            .order_by(WebhookEndpoint.id)
        )
        return list(rows.scalars())

    async def endpoint(self, endpoint_id: str, *, project: str, livemode: bool) -> WebhookEndpoint | None:
        return (
            await self.session.execute(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.id == endpoint_id,
                    WebhookEndpoint.project == project,
                    WebhookEndpoint.livemode == livemode,
                )
            )
        ).scalar_one_or_none()

    async def delete_endpoint(self, endpoint_id: str) -> None:
        # Explicit, since SQLite does not enforce ON DELETE CASCADE without a pragma.
        await self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))

    async def enqueue(self, job: Generation, changes: Mapping[str, Any], now: datetime) -> int:
        """Write one outbox row per enabled endpoint that wants this job's terminal event.
        Call in the transaction that records the outcome, so the event exists iff the outcome does."""
        endpoints = (
            await self.session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                    WebhookEndpoint.project == job.project,
                    WebhookEndpoint.livemode == job.livemode,
                    WebhookEndpoint.status == "enabled",
                )
            )
        ).all()
        if not endpoints:
            return 0
        event_type, payload = generation_event(job, changes, now)
        rows = [
            WebhookDelivery(
                id=new_id("msg"),
                endpoint_id=endpoint_id,
                event_type=event_type,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint_id, events in endpoints
            if event_type in events
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return len(rows)

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        value: datetime | None = await self.session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.status == "pending")
        )
        return value

    async def claim_due(
        self, *, now: datetime, limit: int, hold: timedelta, for_update: bool
    ) -> list[DueDelivery]:
        """Take up to ``limit`` due deliveries. Their next attempt moves ``hold`` ahead first, so a
        process that dies mid-delivery leaves them to be retried by anyone after ``hold``."""
        stmt = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        if for_update:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list((await self.session.execute(stmt)).scalars())
        if not ids:
            return []
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=now + hold, attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        rows = await self.session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.endpoint_id,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                WebhookDelivery.created_at,
                WebhookEndpoint.status,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id.in_(ids))
        )
        due, dropped = [], []
        for row in rows.all():
            if row.status != "enabled":
                dropped.append(row.id)
                continue
            due.append(DueDelivery(*row[:7]))
        if dropped:
            await self.finish(dropped, status="canceled", error="endpoint disabled")
        return due

    async def finish(
        self,
        ids: Sequence[str],
        *,
        status: str,
        status_code: int | None = None,
        error: str | None = None,
        delivered_at: datetime | None = None,
    ) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(status=status, last_status_code=status_code, last_error=error, delivered_at=delivered_at)
            .execution_options(synchronize_session=False)
        )

    async def retry_later(
        self, delivery_id: str, *, at: datetime, status_code: int | None, error: str | None
    ) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(next_attempt_at=at, last_status_code=status_code, last_error=error)
            .execution_options(synchronize_session=False)
        )

    async def disable_endpoint(self, endpoint_id: str, reason: str) -> None:
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(status="disabled", disabled_reason=reason)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
            .values(status="canceled", last_error="endpoint disabled")
            .execution_options(synchronize_session=False)
        )

    async def purge(self, before: datetime) -> int:
        """Forget finished deliveries created before ``before`` (pending ones are kept)."""
        result = await self.session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.status != "pending", WebhookDelivery.created_at < before
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def deliveries(self, endpoint_id: str, limit: int = 50) -> list[WebhookDelivery]:
        rows = await self.session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        return list(rows.scalars())
