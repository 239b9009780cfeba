"""Cancel-on-abandon: a synchronous caller that hangs up while its job is still queued gets it
canceled at $0 before any provider is called; a job already running completes, is charged once,
and stays retrievable by its Idempotency-Key. Real server, raw sockets that really disconnect."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from image_inputs import png
from support import eventually
from webhook_receiver import webhook_receiver

BODY = {"prompt": "a quiet harbour", "model": "dall-e-3"}


async def _hang_up_after(server: Any, key: str, idempotency_key: str, sent: asyncio.Event) -> None:
    """Send a synchronous generate on a raw connection, then close it once ``sent`` is set."""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    body = json.dumps(BODY).encode()
    writer.write(
        b"POST /api/v1/generate HTTP/1.1\r\n"
        + f"Host: {url.netloc}\r\nAuthorization: Bearer {key}\r\n".encode()
        + f"Idempotency-Key: {idempotency_key}\r\nContent-Type: application/json\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await sent.wait()
    writer.close()  # the caller hangs up without reading an answer
    await writer.wait_closed()


async def _jobs(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    return (await api.get("/api/v1/generations", params=params)).json()["data"]


async def test_caller_hanging_up_while_queued_cancels_the_job_at_zero_cost(start_server) -> None:
    # One worker, busy for a while with a blocker: the abandoned job can only wait in the queue.
    server = await start_server(worker_concurrency=1, offline_latency_seconds=3.0)
    key = await server.create_key()
    hang_up = asyncio.Event()
    async with server.client(key) as api:
        blocker = (await api.post("/api/v1/generate", json=BODY, headers={"Prefer": "respond-async"})).json()
        await eventually(
            lambda: _jobs(api, status="running"), lambda jobs: len(jobs) == 1, what="blocker running"
        )
        caller = asyncio.create_task(_hang_up_after(server, key, "abandon-queued", hang_up))
        [queued] = await eventually(
            lambda: _jobs(api, status="queued"), lambda jobs: len(jobs) == 1, what="the caller's job queued"
        )
        hang_up.set()
        await caller
        canceled = await eventually(
            lambda: api.get(f"/api/v1/generations/{queued['id']}"),
            lambda r: r.json()["status"] != "queued",
            what="the abandoned job ending",
        )
        await eventually(
            lambda: api.get(f"/api/v1/generations/{blocker['id']}"),
            lambda r: r.json()["status"] == "succeeded",
            what="the blocker finishing",
        )
        usage = (await api.get("/api/v1/usage")).json()
    job = canceled.json()
    assert job["status"] == "canceled" and not job.get("cost")
    async with server.app.state.services.db.read() as session:
        from orchestrator.db.models import Generation

        row = await session.get(Generation, queued["id"])
    assert row is not None and row.started_at is None and row.attempts == 0  # never reached a renderer
    assert usage["canceled_generations"] == 1 and usage["total_cost"] == 0.04  # only the blocker


async def test_caller_hanging_up_mid_call_still_gets_one_charged_result(start_server) -> None:
    server = await start_server(
        offline_latency_seconds=1.5, webhook_allow_private_targets=True, webhook_retry_base_seconds=0.2
    )
    key = await server.create_key()
    hang_up = asyncio.Event()
    with webhook_receiver() as receiver:
        async with server.client(key) as api:
            hook = await api.post("/api/v1/webhooks", json={"url": receiver.url})
            assert hook.status_code == 201, hook.text
            caller = asyncio.create_task(_hang_up_after(server, key, "abandon-running", hang_up))
            [running] = await eventually(
                lambda: _jobs(api, status="running"),
                lambda jobs: len(jobs) == 1,
                what="the caller's job running",
            )
            hang_up.set()
            await caller
            await eventually(
                lambda: api.get(f"/api/v1/generations/{running['id']}"),
                lambda r: r.json()["status"] != "running",
                what="the running job ending",
            )
            again = await api.post(
                "/api/v1/generate", json=BODY, headers={"Idempotency-Key": "abandon-running"}
            )
            usage = (await api.get("/api/v1/usage")).json()
            jobs = await _jobs(api)
            [delivery] = await asyncio.to_thread(receiver.wait_for, 1)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == running["id"] and again.json()["status"] == "succeeded"
    assert again.json()["cost"] == 0.04
    assert len(jobs) == 1 and usage["total_cost"] == 0.04  # charged once
    event = json.loads(delivery.body)
    assert event["type"] == "generation.succeeded" and running["id"] in delivery.body.decode()


def _multipart(fields: dict[str, str], image: bytes) -> tuple[bytes, str]:
    boundary = "abandon-boundary-7f3a"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="in.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/api/v1/images/upscale", {"model": "magnific-upscaler", "factor": "2"}),
        ("/v1/images/variations", {"model": "dall-e-2", "size": "256x256"}),
    ],
    ids=["rest-upscale", "openai-variation"],
)
async def test_an_image_operation_abandoned_while_queued_is_canceled_at_zero_cost(
    start_server, path: str, fields: dict[str, str]
) -> None:
    # The same hang-up check as generate: one worker busy with a blocker keeps the operation queued.
    server = await start_server(worker_concurrency=1, offline_latency_seconds=3.0)
    key = await server.create_key()
    body, content_type = _multipart(fields, png(64, 48, (10, 90, 200)))
    url = urlsplit(server.url)
    async with server.client(key) as api:
        blocker = (await api.post("/api/v1/generate", json=BODY, headers={"Prefer": "respond-async"})).json()
        await eventually(
            lambda: _jobs(api, status="running"), lambda jobs: len(jobs) == 1, what="blocker running"
        )
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {key}\r\n".encode()
            + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        [queued] = await eventually(
            lambda: _jobs(api, status="queued"), lambda jobs: len(jobs) == 1, what="the operation queued"
        )
        assert queued["operation"] in ("upscale", "variation")
        writer.close()  # the caller hangs up without reading an answer
        await writer.wait_closed()
        ended = await eventually(
            lambda: api.get(f"/api/v1/generations/{queued['id']}"),
            lambda r: r.json()["status"] != "queued",
            what="the abandoned operation ending",
        )
        await eventually(
            lambda: api.get(f"/api/v1/generations/{blocker['id']}"),
            lambda r: r.json()["status"] == "succeeded",
            what="the blocker finishing",
        )
        usage = (await api.get("/api/v1/usage")).json()
    job = ended.json()
    assert job["status"] == "canceled" and not job.get("cost")
    assert job["sources"] and job["sources"][0]["origin"] == "upload"  # its input is still on record
    async with server.app.state.services.db.read() as session:
        from orchestrator.db.models import Generation

        row = await session.get(Generation, queued["id"])
    assert row is not None and row.started_at is None and row.attempts == 0  # never reached a renderer
    assert usage["canceled_generations"] == 1 and usage["total_cost"] == 0.04  # only the blocker
