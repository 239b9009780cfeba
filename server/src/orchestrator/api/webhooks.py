"""Webhook endpoints of the caller's project (admin scope): generation events and budget alerts,
Standard Webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from orchestrator.api.deps import AdminScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.inputs import SafeText
from orchestrator.api.presenters import from_attributes
from orchestrator.api.schemas import StrictBody
from orchestrator.db.models import WebhookDelivery, WebhookEndpoint
from orchestrator.webhooks.delivery import ANSWER_CAP

router = APIRouter(tags=["webhooks"], responses=ERRORS)

EventType = Literal[
    "generation.succeeded", "generation.failed", "generation.canceled", "budget.threshold_crossed"
]


def _generation_events() -> list[EventType]:
    # Budget alerts carry a different body, so an endpoint receives them only when it asks.
    return ["generation.succeeded", "generation.failed", "generation.canceled"]


class WebhookCreate(StrictBody):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL that receives POSTed events: no credentials, fragment, control "
        "or whitespace characters; the host a valid DNS name or address. Public addresses only "
        "unless the operator allows private ones. Stored normalised (IDNA host, percent-encoded path).",
    )
    events: list[EventType] = Field(
        default_factory=_generation_events,
        min_length=1,
        description="Event types to send. Default: the three `generation.*` events; "
        "`budget.threshold_crossed` (a key's or its pool's monthly budget reached 50, 80 or 100 %) "
        "is sent only to endpoints that list it.",
    )
    description: SafeText | None = Field(default=None, max_length=256)


class WebhookUpdate(StrictBody):
    enabled: bool | None = Field(
        default=None,
        strict=True,
        description="`false` pauses the endpoint (what it is still owed is canceled, and no events "
        "are queued for it); `true` resumes it, also after a 410 disabled it.",
    )
    events: list[EventType] | None = Field(default=None, min_length=1, description="Event types to send.")
    description: SafeText | None = Field(default=None, max_length=256, description="`null` clears it.")


class WebhookOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    events: list[str]
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    livemode: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="`whsec_…` signing secret for verifying deliveries; shown in this response only."
    )


class WebhookList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str = Field(description="The `webhook-id` header, identical on every retry.")
    object: Literal["webhook_delivery"] = "webhook_delivery"
    event_type: str = Field(description="A generation event, `budget.threshold_crossed`, or `webhook.test`.")
    status: Literal["pending", "retrying", "delivered", "dead", "canceled"] = Field(
        description="`pending`: not attempted yet; `retrying`: an attempt failed, the next is at "
        "`next_attempt_at`; `delivered`: answered 2xx; `dead`: given up (attempts exhausted, 410, "
        "or an unusable URL); `canceled`: the endpoint was paused or disabled first."
    )
    attempts: int
    last_status_code: int | None = Field(description="Status of the last answer, if there was one.")
    last_error: str | None = Field(
        description=f"Why the last attempt failed: the status and the start of the answer (answers "
        f"over {ANSWER_CAP // 1024} KiB fail), no answer within the deadline, or a refused URL."
    )
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; null once final.")
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DeliveryOut]


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return from_attributes(
        WebhookOut, endpoint, status="enabled" if endpoint.status == "enabled" else "disabled"
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    status = delivery.status
    if status not in ("pending", "retrying", "delivered", "dead", "canceled"):
        status = "dead"  # a state this version does not know of is final for it
    return from_attributes(
        DeliveryOut,
        delivery,
        status=status,
        next_attempt_at=delivery.next_attempt_at if status in ("pending", "retrying") else None,
    )


@router.post("/webhooks", operation_id="createWebhook", response_model=WebhookCreated, status_code=201)
async def create_webhook(body: WebhookCreate, principal: AdminScope, services: ServicesDep) -> WebhookCreated:
    """Register an endpoint for this project's generation events and, if it lists them, budget
    alerts (test keys: test events only)."""
    endpoint = await services.webhooks.create(
        principal, url=body.url, events=body.events, description=body.description
    )
    return WebhookCreated(**webhook_out(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/webhooks", operation_id="listWebhooks", response_model=WebhookList)
async def list_webhooks(principal: AdminScope, services: ServicesDep) -> WebhookList:
    return WebhookList(data=[webhook_out(e) for e in await services.webhooks.list_endpoints(principal)])


@router.get("/webhooks/{webhook_id}", operation_id="getWebhook", response_model=WebhookOut)
async def get_webhook(webhook_id: str, principal: AdminScope, services: ServicesDep) -> WebhookOut:
    return webhook_out(await services.webhooks.get(principal, webhook_id))


@router.patch("/webhooks/{webhook_id}", operation_id="updateWebhook", response_model=WebhookOut)
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, principal: AdminScope, services: ServicesDep
) -> WebhookOut:
    """Pause or resume an endpoint, or change its events or description (fields left out stay)."""
    endpoint = await services.webhooks.update(
        principal,
        webhook_id,
        enabled=body.enabled,
        events=body.events,
        description=body.description,
        clear_description="description" in body.model_fields_set and body.description is None,
    )
    return webhook_out(endpoint)


@router.post(
    "/webhooks/{webhook_id}/test", operation_id="testWebhook", response_model=DeliveryOut, status_code=202
)
async def test_webhook(webhook_id: str, principal: AdminScope, services: ServicesDep) -> DeliveryOut:
    """Queue a signed `webhook.test` event for this endpoint; follow it in its deliveries."""
    return delivery_out(await services.webhooks.send_test(principal, webhook_id))


@router.delete("/webhooks/{webhook_id}", operation_id="deleteWebhook", response_model=WebhookOut)
async def delete_webhook(webhook_id: str, principal: AdminScope, services: ServicesDep) -> WebhookOut:
    """Remove an endpoint; its pending deliveries are dropped."""
    return webhook_out(await services.webhooks.delete(principal, webhook_id))


@router.get(
    "/webhooks/{webhook_id}/deliveries", operation_id="listWebhookDeliveries", response_model=DeliveryList
)
async def list_deliveries(webhook_id: str, principal: AdminScope, services: ServicesDep) -> DeliveryList:
    """The endpoint's 50 most recent deliveries, newest first, with their state, attempts and
    last answer."""
    return DeliveryList(
        data=[delivery_out(d) for d in await services.webhooks.deliveries(principal, webhook_id)]
    )
