"""Webhook endpoint rows written straight into the database, as older versions stored them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.core.clock import now_utc
from orchestrator.db.models import WebhookEndpoint
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
