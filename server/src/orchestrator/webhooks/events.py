"""The events we send, and their JSON bodies (Standard Webhooks: ``type``, ``timestamp``, ``data``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestrator.accounting.money import from_micros
from orchestrator.db.models import BudgetAlert, Generation

GENERATION_EVENTS = ("generation.succeeded", "generation.failed", "generation.canceled")
BUDGET_THRESHOLD_CROSSED = "budget.threshold_crossed"
EVENT_TYPES = (*GENERATION_EVENTS, BUDGET_THRESHOLD_CROSSED)
"""What an endpoint can subscribe to; an endpoint created without a list gets the generation events."""
TEST_EVENT = "webhook.test"
"""Sent on request to one endpoint only (``POST /webhooks/{id}/test``), never subscribed to."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def generation_event(job: Generation, changes: Mapping[str, Any], now: datetime) -> tuple[str, str]:
    """(event type, JSON body) for ``job`` as it is once ``changes`` are applied."""

    def field(name: str) -> Any:
        return changes[name] if name in changes else getattr(job, name)

    status = field("status")
    error_code = field("error_code")
    data = {
        "id": job.id,
        "object": "generation",
        "status": status,
        "model": job.model,
        "operation": job.operation or "generate",
        "livemode": job.livemode,
        "provider": field("provider"),
        "cost": from_micros(field("cost_micros")),
        "currency": job.currency,
        "error": None if error_code is None else {"code": error_code, "message": field("error_message")},
        "metadata": job.meta,
        "batch_id": job.batch_id,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(field("finished_at")),
    }
    return _render(f"generation.{status}", data, now)


def budget_event(
    alert: BudgetAlert, *, key_name: str, currency: str, livemode: bool, now: datetime
) -> tuple[str, str]:
    """(event type, JSON body) of a monthly budget crossing one of its alert thresholds."""
    data = {
        "object": "budget_alert",
        "id": alert.id,
        "scope": alert.scope,
        "key_id": alert.scope_id,
        "key_name": key_name,
        "threshold": alert.threshold,
        "spent": from_micros(alert.spent_micros),
        "budget": from_micros(alert.budget_micros),
        "currency": currency,
        "period_start": alert.period_start.date().isoformat(),
        "generation_id": alert.generation_id,
        "livemode": livemode,
    }
    return _render(BUDGET_THRESHOLD_CROSSED, data, now)


def test_event(endpoint_id: str, livemode: bool, now: datetime) -> tuple[str, str]:
    """(event type, JSON body) of a test delivery to one endpoint."""
    data = {"object": "webhook_test", "endpoint_id": endpoint_id, "livemode": livemode}
    return _render(TEST_EVENT, data, now)


def _render(event_type: str, data: Mapping[str, Any], now: datetime) -> tuple[str, str]:
    body = {"type": event_type, "timestamp": _iso(now), "data": data}
    return event_type, json.dumps(body, separators=(",", ":"), default=str)
