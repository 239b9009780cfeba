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


# --- Hardening: registration rules, the dispatcher, the API additions -------------------------

PRIVATE_SETTING = "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE_TARGETS"


async def test_urls_with_control_characters_or_nul_are_refused_naming_the_field(server) -> None:
    key = await server.create_key()
    async with server.client(key) as api:
        for url in (
            "http://1.1.1.1/x\ty",
            "http://1.1.1.1/x\r\nx-injected: 1",
            "http://1.1.1.1/x\x00y",
            "http://1.1.1.1/\x7f",
        ):
            refused = await api.post("/api/v1/webhooks", json={"url": url})
            assert refused.status_code == 422, (url, refused.text)
            error = refused.json()["error"]
            assert error["param"] == "url" and "control" in error["message"], error
        nul_description = await api.post(
            "/api/v1/webhooks", json={"url": "https://1.1.1.1/h", "description": "a\x00b"}
        )
        assert nul_description.status_code == 422
        assert nul_description.json()["error"]["param"] == "description"
        assert (await api.get("/api/v1/webhooks")).json()["data"] == []  # nothing was stored


async def test_a_64_character_dns_label_is_a_422_not_a_500(server) -> None:
    key = await server.create_key()
    async with server.client(key) as api:
        for host in ("a" * 64 + ".example.com", ".".join(["b" * 63] * 4), "a..example.com"):
            refused = await api.post("/api/v1/webhooks", json={"url": f"https://{host}/hook"})
            assert refused.status_code == 422, (host, refused.text)
            error = refused.json()["error"]
            assert error["param"] == "url" and "DNS name" in error["message"], error


async def test_ipv6_transition_addresses_are_refused_naming_the_setting_that_allows_them(server) -> None:
    key = await server.create_key()
    async with server.client(key) as api:
        for host in (
            "[64:ff9b::7f00:1]",
            "[64:ff9b:1::a00:1]",
            "[2002:7f00:1::]",
            "[::127.0.0.1]",
            "[::ffff:0:127.0.0.1]",
            "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
            "[fd00::1]",
            "100.64.0.1",
        ):
            refused = await api.post("/api/v1/webhooks", json={"url": f"http://{host}/hook"})
            assert refused.status_code == 422, (host, refused.text)
            error = refused.json()["error"]
            assert error["param"] == "url" and f"{PRIVATE_SETTING}=true" in error["message"], error


async def test_unspecified_and_multicast_targets_are_refused_even_with_private_targets_allowed(
    start_server,
) -> None:
    server = await start_server(webhook_allow_private_targets=True)
    key = await server.create_key()
    async with server.client(key) as api:
        for url in ("http://0.0.0.0:8000/", "http://224.0.0.1/", "http://[ff02::1]/", "http://[::]/"):
            refused = await api.post("/api/v1/webhooks", json={"url": url})
            assert refused.status_code == 422, (url, refused.text)


async def test_registered_url_is_stored_normalised(start_server) -> None:
    server = await start_server(webhook_allow_private_targets=True)
    key = await server.create_key()
    async with server.client(key) as api:
        created = await api.post("/api/v1/webhooks", json={"url": "HTTP://LocalHost.:8080/ä?q=1"})
        assert created.status_code == 201, created.text
        assert created.json()["url"] == "http://localhost:8080/%C3%A4?q=1"


async def test_database_errors_never_carry_bound_parameters(server, session_logs) -> None:
    """SQLAlchemy puts an INSERT's parameters into its error message, which the error log
    prints: a webhook's signing secret must not be among them."""
    from orchestrator.core.clock import now_utc
    from orchestrator.db.models import WebhookEndpoint
    from orchestrator.db.repositories.webhooks import WebhookRepository
    from orchestrator.webhooks.service import new_secret

    secret = new_secret()

    def row() -> WebhookEndpoint:
        return WebhookEndpoint(
            id="whk_duplicate",
            project="p",
            livemode=False,
            url="https://1.1.1.1/",
            description=None,
            events=["generation.succeeded"],
            secret=secret,
            status="enabled",
            disabled_reason=None,
            created_at=now_utc(),
        )

    db = server.app.state.services.db
    await db.transaction(lambda session: WebhookRepository(session).insert(row()))
    with pytest.raises(Exception) as refused:  # noqa: B017 - the driver's own IntegrityError class
        await db.transaction(lambda session: WebhookRepository(session).insert(row()))
    exc = refused.value
    assert "IntegrityError" in type(exc).__name__ or "Integrity" in str(exc), exc
    assert secret not in str(exc) and "whsec_" not in str(exc)
    assert "hidden" in str(exc)  # SQLAlchemy's own words for hide_parameters


async def test_endpoints_per_project_and_mode_are_capped(start_server) -> None:
    server = await start_server(webhook_allow_private_targets=True, webhook_max_endpoints=2)
    test_key = await server.create_key(project="acme")
    live_key = await server.create_key(project="acme", mode="live")
    other_key = await server.create_key(project="globex")
    hook = {"url": "http://127.0.0.1:9/hook"}
    async with server.client(test_key) as api:
        first = (await api.post("/api/v1/webhooks", json=hook)).json()
        assert (await api.post("/api/v1/webhooks", json=hook)).status_code == 201
        refused = await api.post("/api/v1/webhooks", json=hook)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "webhook_limit_reached"
        assert "ORCHESTRATOR_WEBHOOK_MAX_ENDPOINTS" in error["message"]
        async with server.client(live_key) as live, server.client(other_key) as other:
            assert (await live.post("/api/v1/webhooks", json=hook)).status_code == 201
            assert (await other.post("/api/v1/webhooks", json=hook)).status_code == 201
        assert (await api.delete(f"/api/v1/webhooks/{first['id']}")).status_code == 200
        assert (await api.post("/api/v1/webhooks", json=hook)).status_code == 201


async def test_test_event_is_signed_delivered_and_listed_and_the_secret_shows_once(start_server) -> None:
    server = await start_server(**FAST_RETRIES)
    key = await server.create_key()
    with webhook_receiver() as receiver:
        async with server.client(key) as api:
            created = (await api.post("/api/v1/webhooks", json={"url": receiver.url})).json()
            queued = await api.post(f"/api/v1/webhooks/{created['id']}/test")
            assert queued.status_code == 202, queued.text
            assert queued.json()["event_type"] == "webhook.test" and queued.json()["status"] == "pending"
            (delivery,) = await asyncio.to_thread(receiver.wait_for, 1, 10)
            event = Webhook(created["secret"]).verify(delivery.body, delivery.headers)
            assert event["type"] == "webhook.test" and event["data"]["endpoint_id"] == created["id"]
            log = await _wait_delivered(api, created["id"])
            assert log["id"] == queued.json()["id"] == delivery.headers["webhook-id"]
            assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 1, 200)
            assert log["next_attempt_at"] is None and log["last_attempt_at"] is not None
            for shown in (
                (await api.get(f"/api/v1/webhooks/{created['id']}")).json(),
                (await api.get("/api/v1/webhooks")).json()["data"][0],
                (await api.patch(f"/api/v1/webhooks/{created['id']}", json={"description": "x"})).json(),
            ):
                assert "secret" not in shown and "whsec_" not in json.dumps(shown)


async def test_paused_endpoint_gets_nothing_and_resumes(start_server) -> None:
    server = await start_server(webhook_allow_private_targets=True, webhook_retry_base_seconds=60)
    key = await server.create_key()
    with webhook_receiver([500]) as receiver:
        async with server.client(key) as api:
            endpoint = (await api.post("/api/v1/webhooks", json={"url": receiver.url})).json()
            path = f"/api/v1/webhooks/{endpoint['id']}"
            await api.post("/api/v1/generate", json=GEN)
            await asyncio.to_thread(receiver.wait_for, 1, 10)  # answered 500: retry in a minute
            retrying = await _wait_status(api, endpoint["id"], "retrying")
            assert retrying["last_status_code"] == 500 and retrying["next_attempt_at"] is not None
            paused = await api.patch(path, json={"enabled": False})
            assert paused.status_code == 200, paused.text
            assert paused.json()["status"] == "disabled" and "paused" in paused.json()["disabled_reason"]
            assert (await _wait_status(api, endpoint["id"], "canceled"))["id"] == retrying["id"]
            await api.post("/api/v1/generate", json=GEN)
            assert len((await api.get(f"{path}/deliveries")).json()["data"]) == 1  # nothing queued
            assert (await api.post(f"{path}/test")).status_code == 409
            resumed = await api.patch(path, json={"enabled": True})
            assert resumed.json()["status"] == "enabled" and resumed.json()["disabled_reason"] is None
            assert (await api.patch(path, json={"enabled": "no"})).status_code == 422
            await api.post("/api/v1/generate", json=GEN)
            await asyncio.to_thread(receiver.wait_for, 2, 10)
            assert (await _wait_status(api, endpoint["id"], "delivered"))["attempts"] == 1


async def test_a_dripping_answer_is_cut_at_the_deadline_and_recorded_failed(start_server) -> None:
    from hostile_receivers import hostile_receiver

    server = await start_server(
        webhook_allow_private_targets=True, webhook_timeout_seconds=1, webhook_max_attempts=1
    )
    key = await server.create_key()
    with hostile_receiver("drip") as drip:
        async with server.client(key) as api:
            endpoint = (await api.post("/api/v1/webhooks", json={"url": drip.url})).json()
            await api.post("/api/v1/generate", json=GEN)
            dead = await _wait_status(api, endpoint["id"], "dead")
            assert dead["last_status_code"] == 200 and "within 1 s" in dead["last_error"]
            assert dead["delivered_at"] is None and dead["last_attempt_at"] is not None


async def test_an_endless_answer_is_read_only_up_to_the_cap(start_server) -> None:
    from hostile_receivers import HUGE_BYTES, hostile_receiver

    server = await start_server(webhook_allow_private_targets=True, webhook_max_attempts=1)
    key = await server.create_key()
    with hostile_receiver("huge") as huge:
        async with server.client(key) as api:
            endpoint = (await api.post("/api/v1/webhooks", json={"url": huge.url})).json()
            await api.post("/api/v1/generate", json=GEN)
            dead = await _wait_status(api, endpoint["id"], "dead")
            assert "more than 64 KiB" in dead["last_error"]
        assert huge.sent_bytes < HUGE_BYTES // 10  # we hung up; the rest was never sent


async def test_any_delivery_error_is_recorded_and_other_endpoints_still_receive(
    start_server, database_url
) -> None:
    from webhook_rows import insert_endpoint

    server = await start_server(**FAST_RETRIES, webhook_max_attempts=2)
    key = await server.create_key(project="acme")
    with webhook_receiver() as good:
        # Stored by hand: a tab in the URL (old registrations accepted it) and a secret that is
        # not base64 (signing raises). Neither may stop the dispatcher.
        tab = await insert_endpoint(database_url, project="acme", url=good.url + "/x\ty")
        unsigned = await insert_endpoint(database_url, project="acme", url=good.url, secret="whsec_%%%")
        async with server.client(key) as api:
            healthy = (await api.post("/api/v1/webhooks", json={"url": good.url})).json()
            for _ in range(2):
                await api.post("/api/v1/generate", json=GEN)
            await asyncio.to_thread(good.wait_for, 2, 10)
            assert {d.headers["webhook-id"] for d in good.deliveries} == {
                d["id"]
                for d in (await api.get(f"/api/v1/webhooks/{healthy['id']}/deliveries")).json()["data"]
            }
            tab_log = [await _wait_status(api, tab, "dead")]
            unsigned_log = await _wait_status(api, unsigned, "dead")
            assert "U+0009" in tab_log[0]["last_error"] and tab_log[0]["attempts"] == 1
            assert "internal error" in unsigned_log["last_error"] and unsigned_log["attempts"] == 2


async def test_the_dispatcher_loop_is_restarted_and_logged_when_it_crashes(
    start_server, session_logs
) -> None:
    server = await start_server(**FAST_RETRIES)
    key = await server.create_key()
    dispatcher = server.app.state.services.webhook_dispatcher
    real_due = dispatcher._due
    crashes = []

    async def crash_once(free: int):
        if not crashes:
            crashes.append(free)
            raise RuntimeError("injected dispatcher fault")
        return await real_due(free)

    dispatcher._due = crash_once
    with webhook_receiver() as receiver:
        async with server.client(key) as api:
            await api.post("/api/v1/webhooks", json={"url": receiver.url})
            await api.post("/api/v1/generate", json=GEN)
            await asyncio.to_thread(receiver.wait_for, 1, 10)
    assert crashes and dispatcher.restarts == 1
    lines = session_logs.records("orchestrator.webhooks.dispatcher")
    assert any("restarting" in line["event"] and line["level"] == "error" for line in lines), lines


async def _wait_status(api, endpoint_id: str, status: str, within: float = 15.0) -> dict:
    """The endpoint's latest delivery once it reaches ``status``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        data = (await api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")).json()["data"]
        if data and data[0]["status"] == status:
            return data[0]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {status} delivery after {within} s: {data}")
        await asyncio.sleep(0.05)


async def test_a_delivery_whose_attempts_never_got_an_outcome_is_not_retried_past_the_limit(
    start_server, database_url
) -> None:
    """The old failure mode: an attempt that kills its process is claimed again after every
    restart. Claims count as attempts, so past the limit it is dead without being tried."""
    from webhook_rows import insert_delivery, insert_endpoint

    server = await start_server(**FAST_RETRIES, webhook_max_attempts=3)
    key = await server.create_key(project="acme")
    with webhook_receiver() as receiver:
        endpoint = await insert_endpoint(database_url, project="acme", url=receiver.url)
        stuck = await insert_delivery(database_url, endpoint_id=endpoint, attempts=3)
        server.app.state.services.webhook_dispatcher.wake()
        async with server.client(key) as api:
            dead = await _wait_status(api, endpoint, "dead")
            assert dead["id"] == stuck and dead["attempts"] == 4 and "no outcome" in dead["last_error"]
            await api.post(f"/api/v1/webhooks/{endpoint}/test")  # the endpoint itself still works
            (delivery,) = await asyncio.to_thread(receiver.wait_for, 1, 10)
        assert delivery.headers["webhook-id"] != stuck
