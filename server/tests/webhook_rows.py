"""Webhook endpoint rows written straight into the database, as older versions stored them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.core.clock import now_utc
from orchestrator.db.models import WebhookDelivery, WebhookEndpoint
from orchestrator.ids import new_id
from orchestrator.webhooks.service import new_secret


async def insert_endpoint(database_url: str, *, project: str, url: str, secret: str | None = None) -> str:
    """An enabled test-mode endpoint, bypassing registration's checks; returns its id."""
    endpoint_id = new_id("whk")
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            WebhookEndpoint.__table__.insert().values(
                id=endpoint_id,
                project=project,
                livemode=False,
                url=url,
                description=None,
                events=["generation.succeeded", "generation.failed", "generation.canceled"],
                secret=secret or new_secret(),
                status="enabled",
                disabled_reason=None,
                created_at=now_utc(),
            )
        )
    await engine.dispose()
    return endpoint_id


async def insert_delivery(database_url: str, *, endpoint_id: str, attempts: int) -> str:
    """A due delivery already claimed ``attempts`` times, none of them recorded (the process
    died mid-attempt each time); returns its id."""

    delivery_id = new_id("msg")
    now = now_utc()
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            WebhookDelivery.__table__.insert().values(
                id=delivery_id,
                endpoint_id=endpoint_id,
                event_type="generation.succeeded",
                payload="{}",
                status="pending",
                attempts=attempts,
                next_attempt_at=now,
                created_at=now,
            )
        )
    await engine.dispose()
    return delivery_id
