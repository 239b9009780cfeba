"""Registering, listing and removing a project's webhook endpoints."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

from orchestrator.auth.principal import Principal
from orchestrator.core.clock import now_utc
from orchestrator.db.engine import Database
from orchestrator.db.models import WebhookDelivery, WebhookEndpoint
from orchestrator.db.repositories.webhooks import WebhookRepository
from orchestrator.errors import ErrorCode, InvalidRequest, NotFound
from orchestrator.ids import new_id
from orchestrator.webhooks.targets import TargetNotAllowed, check_target


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookService:
    def __init__(self, db: Database, *, allow_private: bool) -> None:
        self.db = db
        self.allow_private = allow_private

    async def create(
        self, principal: Principal, *, url: str, events: Sequence[str], description: str | None
    ) -> WebhookEndpoint:
        try:
            await check_target(url, allow_private=self.allow_private)
        except TargetNotAllowed as exc:
            raise InvalidRequest(f"url {exc}", param="url", code=ErrorCode.WEBHOOK_URL_NOT_ALLOWED) from exc
        endpoint = WebhookEndpoint(
            id=new_id("whk"),
            project=principal.project,
            livemode=principal.livemode,
            url=url,
            description=description,
            events=list(dict.fromkeys(events)),
            secret=new_secret(),
            status="enabled",
            disabled_reason=None,
            created_at=now_utc(),
        )
        await self.db.transaction(lambda session: WebhookRepository(session).add_endpoint(endpoint))
        return endpoint

    async def list_endpoints(self, principal: Principal) -> list[WebhookEndpoint]:
        async with self.db.read() as session:
            return await WebhookRepository(session).endpoints(
                project=principal.project, livemode=principal.livemode
            )

    async def get(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        async with self.db.read() as session:
            endpoint = await WebhookRepository(session).endpoint(
                endpoint_id, project=principal.project, livemode=principal.livemode
            )
        if endpoint is None:  # another project's endpoint is indistinguishable from none
            raise NotFound(
                f"no webhook endpoint {endpoint_id!r}", param="id", code=ErrorCode.WEBHOOK_NOT_FOUND
            )
        return endpoint

    async def delete(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await self.get(principal, endpoint_id)
        await self.db.transaction(lambda session: WebhookRepository(session).delete_endpoint(endpoint.id))
        return endpoint

    async def deliveries(self, principal: Principal, endpoint_id: str) -> list[WebhookDelivery]:
        endpoint = await self.get(principal, endpoint_id)
        async with self.db.read() as session:
            return await WebhookRepository(session).deliveries(endpoint.id)
