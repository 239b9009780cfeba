"""Registering, changing, testing, listing and removing a project's webhook endpoints."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.auth.principal import Principal
from orchestrator.core.clock import now_utc
from orchestrator.db.engine import Database
from orchestrator.db.models import WebhookDelivery, WebhookEndpoint
from orchestrator.db.repositories.webhooks import WebhookRepository
from orchestrator.errors import ErrorCode, InvalidRequest, NotFound
from orchestrator.ids import new_id
from orchestrator.outbound.guard import Policy, check_url, resolve_target
from orchestrator.outbound.targets import TargetRefused
from orchestrator.webhooks.events import test_event
from orchestrator.webhooks.outbox import delivery

PAUSED = "paused through the API"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookService:
    def __init__(
        self,
        db: Database,
        *,
        policy: Policy,
        max_endpoints: int,
        on_enqueue: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.max_endpoints = max_endpoints
        self.on_enqueue = on_enqueue

    async def create(
        self, principal: Principal, *, url: str, events: Sequence[str], description: str | None
    ) -> WebhookEndpoint:
        """Register an endpoint. The URL is parsed, checked and resolved here, once; what is
        stored is its normalised form. Refusals name the field (``url``) and the rule."""
        try:
            target = check_url(url, self.policy)
            await resolve_target(target, self.policy)
        except TargetRefused as exc:
            raise InvalidRequest(
                exc.message("url"), param="url", code=ErrorCode.WEBHOOK_URL_NOT_ALLOWED
            ) from exc
        endpoint = WebhookEndpoint(
            id=new_id("whk"),
            project=principal.project,
            livemode=principal.livemode,
            url=target.url,
            description=description,
            events=list(dict.fromkeys(events)),
            secret=new_secret(),
            status="enabled",
            disabled_reason=None,
            created_at=now_utc(),
        )

        async def add(session: AsyncSession) -> None:
            repo = WebhookRepository(session)
            await repo.lock_project(principal.project, principal.livemode)
            if await repo.count_endpoints(project=principal.project, livemode=principal.livemode) >= (
                self.max_endpoints
            ):
                raise InvalidRequest(
                    f"this project already has {self.max_endpoints} webhook endpoints in this mode, "
                    "the limit (ORCHESTRATOR_WEBHOOK_MAX_ENDPOINTS); delete one first",
                    code=ErrorCode.WEBHOOK_LIMIT_REACHED,
                )
            await repo.insert(endpoint)

        await self.db.transaction(add)
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

    async def update(
        self,
        principal: Principal,
        endpoint_id: str,
        *,
        enabled: bool | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        clear_description: bool = False,
    ) -> WebhookEndpoint:
        """Pause (``enabled=False``: what it is still owed is canceled, and nothing new is queued)
        or resume an endpoint, or change its events or description."""
        endpoint = await self.get(principal, endpoint_id)
        values: dict[str, Any] = {}
        if events is not None:
            values["events"] = list(dict.fromkeys(events))
        if description is not None or clear_description:
            values["description"] = description
        if enabled is True:
            values.update(status="enabled", disabled_reason=None)

        async def change(session: AsyncSession) -> None:
            repo = WebhookRepository(session)
            if values:
                await repo.update_endpoint(endpoint.id, **values)
            if enabled is False and endpoint.status == "enabled":
                await repo.disable_endpoint(endpoint.id, PAUSED)

        await self.db.transaction(change)
        return await self.get(principal, endpoint_id)

    async def send_test(self, principal: Principal, endpoint_id: str) -> WebhookDelivery:
        """Queue a signed ``webhook.test`` event for this endpoint alone."""
        endpoint = await self.get(principal, endpoint_id)
        if endpoint.status != "enabled":
            raise InvalidRequest(
                f"webhook endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); "
                "resume it with PATCH enabled=true first",
                param="id",
                code=ErrorCode.WEBHOOK_DISABLED,
            )
        now = now_utc()
        event_type, payload = test_event(endpoint.id, endpoint.livemode, now)
        row = delivery(endpoint.id, event_type, payload, now)
        await self.db.transaction(lambda session: WebhookRepository(session).add_deliveries([row]))
        self.on_enqueue()
        return row

    async def delete(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await self.get(principal, endpoint_id)
        await self.db.transaction(lambda session: WebhookRepository(session).delete_endpoint(endpoint.id))
        return endpoint

    async def deliveries(self, principal: Principal, endpoint_id: str) -> list[WebhookDelivery]:
        endpoint = await self.get(principal, endpoint_id)
        async with self.db.read() as session:
            return await WebhookRepository(session).deliveries(endpoint.id)
