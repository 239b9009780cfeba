"""Webhook endpoints and their deliveries, as ``/api/v1/webhooks`` answers them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .models import ResponseModel

__all__ = [
    "WEBHOOK_EVENTS",
    "WebhookDelivery",
    "WebhookDeliveryList",
    "WebhookEndpoint",
    "WebhookEndpointCreated",
    "WebhookEndpointList",
]

WEBHOOK_EVENTS = (
    "generation.succeeded",
    "generation.failed",
    "generation.canceled",
    "budget.threshold_crossed",
)
"""The event types an endpoint can subscribe to. Without a list an endpoint gets the three
``generation.*`` events; ``budget.threshold_crossed`` (a key's or its pool's monthly budget
reached 50, 80 or 100 %, once each per month) only when listed."""


class WebhookEndpoint(ResponseModel):
    """A URL that receives this project's generation events (and budget alerts, if it lists
    them), signed (Standard Webhooks)."""

    id: str
    object: str = "webhook_endpoint"
    url: str
    events: list[str] = Field(default_factory=list)
    description: str | None = None
    status: str
    """``enabled`` or ``disabled`` (see ``disabled_reason``)."""
    disabled_reason: str | None = None
    livemode: bool
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    """A new endpoint: ``secret`` (``whsec_…``) is in this response only; keep it to verify
    deliveries with :func:`verify_webhook`."""

    secret: str


class WebhookEndpointList(ResponseModel):
    object: str = "list"
    data: list[WebhookEndpoint] = Field(default_factory=list)


class WebhookDelivery(ResponseModel):
    """One event sent (or to be sent) to an endpoint; ``id`` is the ``webhook-id`` header, the
    same on every retry."""

    id: str
    object: str = "webhook_delivery"
    event_type: str
    """A generation event, ``budget.threshold_crossed``, or ``webhook.test``."""
    status: str
    """``pending``, ``retrying`` (see ``next_attempt_at``), ``delivered``, ``dead`` or ``canceled``."""
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class WebhookDeliveryList(ResponseModel):
    object: str = "list"
    data: list[WebhookDelivery] = Field(default_factory=list)
