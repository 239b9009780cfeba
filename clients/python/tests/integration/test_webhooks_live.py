"""Webhook management and signature checks against a real server, its real deliveries and their
real Standard Webhooks signatures."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from freepik_ai_orchestrator import (
    WEBHOOK_EVENTS,
    AsyncOrchestrationClient,
    ConflictError,
    NotFoundError,
    OrchestrationClient,
    PermissionDeniedError,
    WebhookDelivery,
    WebhookEndpointCreated,
    WebhookVerificationError,
    verify_webhook,
)
from tests.integration.conftest import LiveServer
from tests.integration.receiver import WebhookReceiver
from tests.support import resolve

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(kind: str, webhook_server: LiveServer) -> AsyncIterator[Any]:
    cls = OrchestrationClient if kind == "sync" else AsyncOrchestrationClient
    client = cls(base_url=webhook_server.url, api_key=webhook_server.key, timeout=60)
    yield client
    await resolve(client.close())


async def _delivered(client: Any, webhook_id: str, delivery_id: str) -> WebhookDelivery:
    """The server records a delivery right after the receiver answers: follow it to its state."""
    deadline = time.monotonic() + 30
    while True:
        deliveries = (await resolve(client.list_webhook_deliveries(webhook_id))).data
        found = [d for d in deliveries if d.id == delivery_id]
        if found and found[0].status == "delivered":
            return found[0]
        assert time.monotonic() < deadline, f"delivery {delivery_id} not recorded as delivered: {deliveries}"
        await resolve(client._sleep(0.1))


async def test_manage_an_endpoint_and_verify_a_real_delivery(admin: Any) -> None:
    with WebhookReceiver() as receiver:
        endpoint = await resolve(
            admin.create_webhook(receiver.url, events=["generation.succeeded"], description="sdk test")
        )
        assert isinstance(endpoint, WebhookEndpointCreated)
        assert endpoint.secret.startswith("whsec_")
        assert (endpoint.url, endpoint.events, endpoint.status) == (
            receiver.url,
            ["generation.succeeded"],
            "enabled",
        )
        listed = await resolve(admin.list_webhooks())
        assert endpoint.id in [e.id for e in listed]
        assert "secret" not in (await resolve(admin.get_webhook(endpoint.id))).model_dump()

        generation = await resolve(admin.generate(prompt="a lighthouse", model="dall-e-3"))
        [hook] = receiver.wait_for(1)

        event = verify_webhook(hook.body, hook.headers, endpoint.secret)
        assert event["type"] == "generation.succeeded"
        assert event["data"]["id"] == generation.id
        with pytest.raises(WebhookVerificationError, match="no matching webhook signature"):
            verify_webhook(
                hook.body.replace(generation.id.encode(), b"gen_forged"), hook.headers, endpoint.secret
            )
        other = await resolve(admin.create_webhook(receiver.url))
        # Without a list: the generation events; budget alerts are sent only when listed.
        assert other.events == [e for e in WEBHOOK_EVENTS if e.startswith("generation.")]
        with pytest.raises(WebhookVerificationError):
            verify_webhook(hook.body, hook.headers, other.secret)  # another endpoint's secret
        await resolve(admin.delete_webhook(other.id))

        delivery = await _delivered(admin, endpoint.id, hook.headers["webhook-id"])
        assert delivery.event_type == "generation.succeeded" and delivery.attempts >= 1
        assert delivery.last_status_code == 200

        deleted = await resolve(admin.delete_webhook(endpoint.id))
        assert deleted.id == endpoint.id
        with pytest.raises(NotFoundError):
            await resolve(admin.get_webhook(endpoint.id))
        assert json.loads(hook.body)["data"]["id"] == generation.id


async def test_a_key_without_admin_scope_cannot_manage_webhooks(
    kind: str, webhook_server: LiveServer
) -> None:

    key = webhook_server.keys.get("no-admin") or webhook_server.create_key(
        "no-admin", scopes=("generate", "read")
    )
    cls = OrchestrationClient if kind == "sync" else AsyncOrchestrationClient
    client = cls(base_url=webhook_server.url, api_key=key)
    with pytest.raises(PermissionDeniedError):
        await resolve(client.list_webhooks())
    await resolve(client.close())


async def test_pause_resume_and_a_signed_test_event(admin: Any) -> None:
    with WebhookReceiver() as receiver:
        endpoint = await resolve(admin.create_webhook(receiver.url, description="to clear"))
        queued = await resolve(admin.send_test_webhook(endpoint.id))
        assert (queued.object, queued.event_type, queued.status) == (
            "webhook_delivery",
            "webhook.test",
            "pending",
        )
        [hook] = receiver.wait_for(1)
        assert hook.headers["webhook-id"] == queued.id
        assert verify_webhook(hook.body, hook.headers, endpoint.secret)["type"] == "webhook.test"
        delivered = await _delivered(admin, endpoint.id, queued.id)
        assert delivered.last_attempt_at is not None and delivered.next_attempt_at is None

        paused = await resolve(admin.pause_webhook(endpoint.id))
        assert paused.status == "disabled"
        with pytest.raises(ConflictError) as info:  # the endpoint's state, not the request, is wrong
            await resolve(admin.send_test_webhook(endpoint.id))
        assert info.value.code == "webhook_disabled"
        # A paused endpoint is owed nothing: the finished job queued no delivery for it.
        await resolve(admin.generate(prompt="while paused", model="dall-e-3"))
        kinds = [d.event_type for d in (await resolve(admin.list_webhook_deliveries(endpoint.id))).data]
        assert kinds == ["webhook.test"]

        changed = await resolve(
            admin.update_webhook(endpoint.id, events=["generation.failed"], description=None)
        )
        assert (changed.events, changed.description, changed.status) == (
            ["generation.failed"],
            None,
            "disabled",
        )
        resumed = await resolve(admin.resume_webhook(endpoint.id))
        assert resumed.status == "enabled" and resumed.disabled_reason is None
        again = await resolve(admin.send_test_webhook(endpoint.id))
        hooks = receiver.wait_for(2)
        assert hooks[1].headers["webhook-id"] == again.id
        await resolve(admin.delete_webhook(endpoint.id))
        with pytest.raises(ValueError, match="needs enabled, events or description"):
            await resolve(admin.update_webhook(endpoint.id))
