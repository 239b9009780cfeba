"""Writing events into the delivery outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import Generation, WebhookDelivery
from orchestrator.db.repositories.webhooks import WebhookRepository
from orchestrator.ids import new_id
from orchestrator.webhooks.events import generation_event


def delivery(endpoint_id: str, event_type: str, payload: str, now: datetime) -> WebhookDelivery:
    """A new outbox row, due now."""
    return WebhookDelivery(
        id=new_id("msg"),
        endpoint_id=endpoint_id,
        event_type=event_type,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


async def enqueue_generation_event(
    session: AsyncSession, job: Generation, changes: Mapping[str, Any], now: datetime
) -> int:
    """One outbox row per enabled endpoint that wants this job's terminal event. Call in the
    transaction that records the outcome, so the event exists if and only if the outcome does."""
    event_type, payload = generation_event(job, changes, now)
    return await enqueue_event(
        session, project=job.project, livemode=job.livemode, event=(event_type, payload), now=now
    )


async def enqueue_event(
    session: AsyncSession, *, project: str, livemode: bool, event: tuple[str, str], now: datetime
) -> int:
    """One outbox row per enabled endpoint of the project and mode subscribed to ``event`` (its
    type and JSON body), in the caller's transaction; the number of rows."""
    event_type, payload = event
    repo = WebhookRepository(session)
    endpoint_ids = await repo.subscribed_endpoints(project=project, livemode=livemode, event_type=event_type)
    if endpoint_ids:
        await repo.add_deliveries([delivery(e, event_type, payload, now) for e in endpoint_ids])
    return len(endpoint_ids)
