"""Webhooks: Standard Webhooks signatures, at-least-once delivery with one id, 410, SSRF refusal."""

from __future__ import annotations

import asyncio
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from support import eventually
from webhook_receiver import webhook_receiver

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

GEN = {"prompt": "a paper boat", "model": "dall-e-3", "metadata": {"order": "42"}}
FAST_RETRIES = {"webhook_allow_private_targets": True, "webhook_retry_base_seconds": 0.2}


async def test_retried_delivery_keeps_its_id_and_verifies(start_server) -> None:
    server = await start_server(**FAST_RETRIES)
    key = await server.create_key()
    with webhook_receiver([500, 500, 200]) as receiver:
        async with server.client(key) as api:
            created = await api.post("/api/v1/webhooks", json={"url": receiver.url})
            assert created.status_code == 201, created.text
            endpoint = created.json()
            assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "enabled"
            assert set(endpoint["events"]) == {
                "generation.succeeded",
                "generation.failed",
                "generation.canceled",
            }
            job = (await api.post("/api/v1/generate", json=GEN)).json()
            deliveries = await asyncio.to_thread(receiver.wait_for, 3)
            assert len({d.headers["webhook-id"] for d in deliveries}) == 1  # same id each time
            wh = Webhook(endpoint["secret"])
            for delivery in deliveries:
                event = wh.verify(delivery.body, delivery.headers)
                assert event["type"] == "generation.succeeded"
                assert event["data"]["id"] == job["id"] and event["data"]["status"] == "succeeded"
                assert event["data"]["cost"] == job["cost"] and event["data"]["metadata"] == {"order": "42"}
            # A tampered body does not verify.
            forged = deliveries[0].body.replace(b"succeeded", b"failed")
            with pytest.raises(WebhookVerificationError):
                wh.verify(forged, deliveries[0].headers)
            log = await _wait_delivered(api, endpoint["id"])
            assert log["status"] == "delivered" and log["attempts"] == 3 and log["last_status_code"] == 200
            first_id = deliveries[0].headers["webhook-id"]
            assert log["id"] == first_id
            # The dispatcher moves on to the next event; the delivered one is never sent again.
            await api.post("/api/v1/generate", json=GEN)
            after = await asyncio.to_thread(receiver.wait_for, 4)
            await _wait_delivered(api, endpoint["id"], after[3].headers["webhook-id"])
        assert [d.headers["webhook-id"] for d in receiver.deliveries].count(first_id) == 3
        assert after[3].headers["webhook-id"] != first_id


async def test_canceled_job_sends_canceled_event_only_to_subscribed_endpoints(start_server) -> None:
    server = await start_server(offline_latency_seconds=30, **FAST_RETRIES)
    key = await server.create_key()
    with webhook_receiver() as canceled_only, webhook_receiver() as succeeded_only:
        async with server.client(key) as api:
            for receiver, events in (
                (canceled_only, ["generation.canceled"]),
                (succeeded_only, ["generation.succeeded"]),
            ):
                response = await api.post("/api/v1/webhooks", json={"url": receiver.url, "events": events})
                assert response.status_code == 201
            job = (await api.post("/api/v1/generate", json=GEN, headers={"Prefer": "respond-async"})).json()
            assert (await api.post(f"/api/v1/generations/{job['id']}/cancel")).status_code == 200
            (delivery,) = await asyncio.to_thread(canceled_only.wait_for, 1)
            body = json.loads(delivery.body)
            assert body["type"] == "generation.canceled" and body["data"]["error"]["code"] == "canceled"
        assert succeeded_only.deliveries == []


async def test_gone_disables_the_endpoint(start_server) -> None:
    server = await start_server(**FAST_RETRIES)
    key = await server.create_key()
    with webhook_receiver([410]) as receiver, webhook_receiver() as witness:
        async with server.client(key) as api:
            endpoint = (await api.post("/api/v1/webhooks", json={"url": receiver.url})).json()
            await api.post("/api/v1/generate", json=GEN)
            await asyncio.to_thread(receiver.wait_for, 1)
            state = await eventually(
                lambda: _json(api.get(f"/api/v1/webhooks/{endpoint['id']}")),
                lambda state: state["status"] == "disabled",
                what="the endpoint to be disabled",
            )
            assert "410" in state["disabled_reason"]
            assert "secret" not in state  # shown at creation only
            # A second endpoint of the project sees the next event: once it has, the dispatcher
            # has handled that event, and nothing of it went to the disabled endpoint.
            assert (await api.post("/api/v1/webhooks", json={"url": witness.url})).status_code == 201
            await api.post("/api/v1/generate", json=GEN)
            await asyncio.to_thread(witness.wait_for, 1)
        assert len(receiver.deliveries) == 1  # nothing more goes to a disabled endpoint


async def test_private_targets_refused_by_default_and_endpoints_are_per_project(server) -> None:
    admin = await server.create_key(project="acme")
    other = await server.create_key(project="globex")
    async with server.client(admin) as api, server.client(other) as intruder:
        for url in (
            "http://127.0.0.1:9/hook",
            "http://169.254.169.254/latest",
            "http://10.0.0.7/x",
            "ftp://example.com/",
        ):
            refused = await api.post("/api/v1/webhooks", json={"url": url})
            assert refused.status_code == 422, (url, refused.text)
            error = refused.json()["error"]
            assert error["param"] == "url"
        unknown = await api.post(
            "/api/v1/webhooks", json={"url": "https://example.com/h", "events": ["nope"]}
        )
        assert unknown.status_code == 422
        reader = await server.create_key(project="acme", scopes=("read",))
        async with server.client(reader) as weak:
            assert (await weak.get("/api/v1/webhooks")).status_code == 403
        assert (await intruder.get("/api/v1/webhooks")).json()["data"] == []
        assert (await intruder.get("/api/v1/webhooks/whk_nothing")).status_code == 404


async def _json(response) -> dict:
    return (await response).json()


async def _wait_delivered(api, endpoint_id: str, delivery_id: str | None = None) -> dict:
    """The endpoint's delivery (the only one, or ``delivery_id``) once it is marked delivered."""

    async def delivery() -> dict | None:
        log = (await api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")).json()["data"]
        if delivery_id is None:
            (only,) = log
            return only
        return next((d for d in log if d["id"] == delivery_id), None)

    return await eventually(
        delivery, lambda d: d is not None and d["status"] == "delivered", what="delivered"
    )
