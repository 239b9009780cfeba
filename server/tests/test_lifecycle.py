"""Every ending of a job writes the same four things: the fenced row, one outbox event, a released
concurrency slot and one published event (counted in /metrics under the job's model and provider)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from support import sample_value
from webhook_receiver import webhook_receiver

from orchestrator.core.clock import now_utc
from orchestrator.core.slots import principal_slot
from orchestrator.db.models import Generation, WebhookDelivery
from orchestrator.generation.events import JobEvent

GEN = {"prompt": "a quiet harbour", "model": "dall-e-3"}


async def _metrics(scraper: httpx.AsyncClient) -> dict[str, Any]:
    answer = await scraper.get("/metrics")  # a live admin key: what /metrics is served to
    assert answer.status_code == 200, answer.text
    return {family.name: family for family in text_string_to_metric_families(answer.text)}


def _counted(families: dict[str, Any], model: str, provider: str, status: str) -> float:
    return sample_value(
        families, "orchestrator_generations_total", model=model, provider=provider, status=status, mode="test"
    )


def _count_dispatcher_wakes(services: Any) -> list[None]:
    """One entry per commit that woke the webhook dispatcher (it had queued webhook rows)."""
    lifecycle = services.pool.lifecycle
    wake = lifecycle.webhooks_queued
    assert wake is not None
    woken: list[None] = []

    def counted() -> None:
        woken.append(None)
        wake()

    lifecycle.webhooks_queued = counted
    return woken


async def test_every_ending_writes_the_row_one_outbox_event_a_released_slot_and_one_event(
    start_server,
) -> None:
    server = await start_server(
        offline_latency_seconds=1.5, webhook_allow_private_targets=True, job_max_attempts=1
    )
    services = server.app.state.services
    published: list[JobEvent] = []
    services.hub.add_listener(lambda event: published.append(event) if event.terminal else None)
    wakes = _count_dispatcher_wakes(services)
    key = await server.create_key()
    scraper_key = await server.create_key(mode="live")

    async def check(job_id: str, status: str) -> None:
        """The four things, for one ended job."""
        async with services.db.read() as session:
            row = (await session.execute(select(Generation).where(Generation.id == job_id))).scalar_one()
            outbox = list(
                (
                    await session.execute(
                        select(WebhookDelivery.event_type).where(WebhookDelivery.payload.contains(job_id))
                    )
                ).scalars()
            )
        assert row.status == status and row.finished_at is not None, (row.status, row.error_code)
        assert row.lease_owner is None and row.lease_expires_at is None  # the fenced update
        assert outbox == [f"generation.{status}"]  # exactly one outbox event
        slot = principal_slot(row.project, row.subject, row.api_key_id)
        assert services.concurrency.active(slot) == 0  # the slot is given back
        ends = [e for e in published if e.generation_id == job_id]
        assert len(ends) == 1 and ends[0].status == status  # one published event, with the row
        assert ends[0].generation is not None and ends[0].generation.model == "dall-e-3"
        assert len(wakes) == 1  # the dispatcher is woken once, for the outbox row
        wakes.clear()

    async with asyncio.timeout(90):
        with webhook_receiver() as receiver:
            async with server.client(key) as api, server.client(scraper_key) as scraper:
                created = await api.post("/api/v1/webhooks", json={"url": receiver.url})
                assert created.status_code == 201, created.text
                before = await _metrics(scraper)

                succeeded = await api.post("/api/v1/generate", json=GEN)
                assert succeeded.status_code == 200, succeeded.text
                await check(succeeded.json()["id"], "succeeded")

                images = server.settings.data_dir / "images"
                shutil.rmtree(images, ignore_errors=True)
                images.write_bytes(b"")  # a file where the folder should be: storing fails
                try:
                    failed = await api.post("/api/v1/generate", json=GEN)
                finally:
                    images.unlink()
                assert failed.status_code == 503, failed.text
                await check(failed.json()["error"]["generation_id"], "failed")

                async_headers = {"Prefer": "respond-async"}
                queued = (await api.post("/api/v1/generate", json=GEN, headers=async_headers)).json()
                canceled = await api.post(f"/api/v1/generations/{queued['id']}/cancel")
                assert canceled.status_code == 200, canceled.text
                await check(queued["id"], "canceled")

                # Lost: the job's lease is held by a worker that vanished, past its last attempt.
                lost = (await api.post("/api/v1/generate", json=GEN, headers=async_headers)).json()
                assert lost["status"] == "running"
                await services.db.transaction(
                    lambda session: session.execute(
                        update(Generation)
                        .where(Generation.id == lost["id"])
                        .values(lease_owner="vanished-worker", lease_expires_at=now_utc() - timedelta(1))
                    )
                )
                await services.pool.recover()
                # This process's own run of it ends without a second outcome (its result is refused).
                running = list(services.pool.active.values())
                if running:
                    await asyncio.wait(running, timeout=20)
                assert not services.pool.active
                await check(lost["id"], "failed")
                after = await _metrics(scraper)

    def moved(provider: str, status: str) -> float:
        return _counted(after, "dall-e-3", provider, status) - _counted(before, "dall-e-3", provider, status)

    assert moved("offline", "succeeded") == 1
    assert moved("none", "failed") == 2  # the storage failure and the lost job
    assert moved("none", "canceled") == 1
    assert _counted(after, "unknown", "none", "failed") == 0  # every ending names its model


async def test_a_job_ending_with_no_webhook_endpoint_leaves_the_dispatcher_asleep(start_server) -> None:
    """Waking the dispatcher costs it a database read: only an ending that queued rows does."""
    server = await start_server()
    services = server.app.state.services
    wakes = _count_dispatcher_wakes(services)
    key = await server.create_key()
    async with asyncio.timeout(30), server.client(key) as api:
        answer = await api.post("/api/v1/generate", json=GEN)
        assert answer.status_code == 200 and answer.json()["status"] == "succeeded", answer.text
    assert wakes == []
