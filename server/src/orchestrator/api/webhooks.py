"""Webhook endpoints of the caller's project (admin scope): generation events, Standard Webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from orchestrator.api.deps import AdminScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.schemas import StrictBody
from orchestrator.db.models import WebhookDelivery, WebhookEndpoint

router = APIRouter(tags=["webhooks"])

EventType = Literal["generation.succeeded", "generation.failed", "generation.canceled"]


def _all_events() -> list[EventType]:
    return ["generation.succeeded", "generation.failed", "generation.canceled"]


class WebhookCreate(StrictBody):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL that receives POSTed events; public addresses only unless the "
        "operator allows private ones.",
    )
    events: list[EventType] = Field(
        default_factory=_all_events, min_length=1, description="Event types to send."
    )
    description: str | None = Field(default=None, max_length=256)


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
    event_type: str
    status: Literal["pending", "delivered", "failed", "canceled"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DeliveryOut]


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        description=endpoint.description,
        status="enabled" if endpoint.status == "enabled" else "disabled",
        disabled_reason=endpoint.disabled_reason,
        livemode=endpoint.livemode,
        created_at=endpoint.created_at,
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery, from_attributes=True)


@router.post(
    "/webhooks",
    operation_id="createWebhook",
    response_model=WebhookCreated,
    status_code=201,
    responses=ERRORS,
)
async def create_webhook(body: WebhookCreate, principal: AdminScope, services: ServicesDep) -> WebhookCreated:
    """Register an endpoint for this project's generation events (test keys: test events only)."""
    endpoint = await services.webhooks.create(
        principal, url=body.url, events=body.events, description=body.description
    )
    return WebhookCreated(**webhook_out(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/webhooks", operation_id="listWebhooks", response_model=WebhookList, responses=ERRORS)
async def list_webhooks(principal: AdminScope, services: ServicesDep) -> WebhookList:
    return WebhookList(data=[webhook_out(e) for e in await services.webhooks.list_endpoints(principal)])


@router.get("/webhooks/{webhook_id}", operation_id="getWebhook", response_model=WebhookOut, responses=ERRORS)
async def get_webhook(webhook_id: str, principal: AdminScope, services: ServicesDep) -> WebhookOut:
    return webhook_out(await services.webhooks.get(principal, webhook_id))


@router.delete(
    "/webhooks/{webhook_id}", operation_id="deleteWebhook", response_model=WebhookOut, responses=ERRORS
)
async def delete_webhook(webhook_id: str, principal: AdminScope, services: ServicesDep) -> WebhookOut:
    """Remove an endpoint; its pending deliveries are dropped."""
    return webhook_out(await services.webhooks.delete(principal, webhook_id))


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=DeliveryList,
    responses=ERRORS,
)
async def list_deliveries(webhook_id: str, principal: AdminScope, services: ServicesDep) -> DeliveryList:
    """The endpoint's most recent deliveries, newest first."""
    return DeliveryList(
        data=[delivery_out(d) for d in await services.webhooks.deliveries(principal, webhook_id)]
    )
