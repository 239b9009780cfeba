"""All SQL about webhook endpoints and the delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update

from orchestrator.db.models import WebhookDelivery, WebhookEndpoint
from orchestrator.db.repositories.base import Repository

DUE_STATUSES = ("pending", "retrying")
"""Deliveries still to be attempted; ``delivered``, ``dead`` and ``canceled`` are final."""


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: str
    endpoint_id: str
    url: str
    secret: str = field(repr=False)
    payload: str = field(repr=False)
    attempts: int
    created_at: datetime


class WebhookRepository(Repository):
    async def lock_project(self, project: str, livemode: bool) -> None:
        """Serialise endpoint registration per project (PostgreSQL; SQLite has one writer)."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"webhooks:{project}:{livemode}"},
            )

    async def count_endpoints(self, *, project: str, livemode: bool) -> int:
        value = await self.session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.project == project, WebhookEndpoint.livemode == livemode)
        )
        return int(value or 0)

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

    async def update_endpoint(self, endpoint_id: str, **values: object) -> None:
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def delete_endpoint(self, endpoint_id: str) -> None:
        # Explicit, since SQLite does not enforce ON DELETE CASCADE without a pragma.
        await self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))

    async def subscribed_endpoints(self, *, project: str, livemode: bool, event_type: str) -> list[str]:
        """Ids of the enabled endpoints of a project that want ``event_type``."""
        rows = (
            await self.session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                    WebhookEndpoint.project == project,
                    WebhookEndpoint.livemode == livemode,
                    WebhookEndpoint.status == "enabled",
                )
            )
        ).all()
        return [endpoint_id for endpoint_id, events in rows if event_type in events]

    async def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None:
        self.session.add_all(deliveries)
        await self.session.flush()

    async def next_due(self) -> datetime | None:
        """When the earliest delivery still to be attempted is due (None: none is)."""
        value: datetime | None = await self.session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.status.in_(DUE_STATUSES))
        )
        return value

    async def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        per_endpoint: int,
        busy: dict[str, int],
        hold: timedelta,
        for_update: bool,
    ) -> list[DueDelivery]:
        """Take up to ``limit`` due deliveries, at most ``per_endpoint`` minus ``busy[endpoint]``
        of any one endpoint, so one endpoint's backlog never takes every slot. Their next attempt
        moves ``hold`` ahead first, so a process that dies mid-delivery leaves them to be retried
        by anyone after ``hold``."""
        stmt = (
            select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.status.in_(DUE_STATUSES), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(max(limit * 8, 64))
        )
        full = [e for e, n in busy.items() if n >= per_endpoint]
        if full:
            stmt = stmt.where(WebhookDelivery.endpoint_id.not_in(full))
        if for_update:
            stmt = stmt.with_for_update(skip_locked=True)
        taken: dict[str, int] = dict(busy)
        ids: list[str] = []
        for delivery_id, endpoint_id in (await self.session.execute(stmt)).all():
            if taken.get(endpoint_id, 0) >= per_endpoint:
                continue
            taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
            ids.append(delivery_id)
            if len(ids) >= limit:
                break
        if not ids:
            return []
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=now + hold, attempts=WebhookDelivery.attempts + 1, last_attempt_at=now)
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
            .values(status="retrying", next_attempt_at=at, last_status_code=status_code, last_error=error)
            .execution_options(synchronize_session=False)
        )

    async def disable_endpoint(self, endpoint_id: str, reason: str) -> None:
        """Stop an endpoint; what it was still owed is canceled."""
        await self.update_endpoint(endpoint_id, status="disabled", disabled_reason=reason)
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status.in_(DUE_STATUSES))
            .values(status="canceled", last_error="endpoint disabled")
            .execution_options(synchronize_session=False)
        )

    async def purge(self, before: datetime) -> int:
        """Forget final deliveries created before ``before`` (those still to be attempted are kept)."""
        result = await self.session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.status.not_in(DUE_STATUSES), WebhookDelivery.created_at < before
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
