"""Idempotency keys: retries never create a second generation or a second charge."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import httpx
import pytest

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

USAGE_RANGE = {
    "start_date": str(date.today() - timedelta(days=1)),
    "end_date": str(date.today() + timedelta(days=1)),
}
GEN = {"prompt": "a glass of water", "model": "gpt-image-1", "quality": "low"}


async def _count(api: httpx.AsyncClient) -> int:
    return len((await api.get("/api/v1/generations", params={"limit": 100})).json()["data"])


async def test_replay_returns_original_result(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.post("/api/v1/generate", json=GEN, headers=headers)
    second = await api.post("/api/v1/generate", json=GEN, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert first.json()["id"] == second.json()["id"]
    assert await _count(api) == 1
    usage = (await api.get("/api/v1/usage", params=USAGE_RANGE)).json()
    assert usage["total_generations"] == 1 and usage["total_cost"] == 0.011


async def test_same_key_other_body_is_409(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert (await api.post("/api/v1/generate", json=GEN, headers=headers)).status_code == 200
    other = await api.post("/api/v1/generate", json={**GEN, "prompt": "something else"}, headers=headers)
    assert other.status_code == 409
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused" and error["param"] == "Idempotency-Key"


async def test_concurrent_retries_create_one_generation(start_server) -> None:
    server = await start_server(offline_latency_seconds=0.3)
    key = await server.create_key()
    async with server.client(key) as api:
        headers = {"Idempotency-Key": "burst"}
        responses = await asyncio.gather(
            *(api.post("/api/v1/generate", json=GEN, headers=headers) for _ in range(5))
        )
        ok = [r for r in responses if r.status_code == 200]
        busy = [r for r in responses if r.status_code == 409]
        assert len(ok) + len(busy) == 5 and ok
        assert {r.json()["id"] for r in ok} == {ok[0].json()["id"]}
        for response in busy:
            assert response.json()["error"]["code"] == "idempotency_key_in_use"
            assert response.headers["retry-after"] == "1"
        assert await _count(api) == 1


async def test_keys_are_scoped_per_project(server) -> None:
    a = await server.create_key(project="a")
    b = await server.create_key(project="b")
    async with server.client(a) as client_a, server.client(b) as client_b:
        headers = {"Idempotency-Key": "shared-name"}
        first = (await client_a.post("/api/v1/generate", json=GEN, headers=headers)).json()
        second = (await client_b.post("/api/v1/generate", json=GEN, headers=headers)).json()
    assert first["id"] != second["id"]


async def test_failed_validation_does_not_burn_the_key(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "fix-and-retry"}
    bad = await api.post("/api/v1/generate", json={**GEN, "size": "1x1"}, headers=headers)
    assert bad.status_code == 422
    good = await api.post(
        "/api/v1/generate",
        json={**GEN, "size": "1x1"} | {"size": "1024x1024"},
        headers={"Idempotency-Key": "fix-and-retry-2"},
    )
    assert good.status_code == 200
    # The same key with the same bad body is simply refused again, not stuck.
    assert (
        await api.post("/api/v1/generate", json={**GEN, "size": "1x1"}, headers=headers)
    ).status_code == 422


async def test_async_submit_replays_the_same_job(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "async-1", "Prefer": "respond-async"}
    first = await api.post("/api/v1/generate", json=GEN, headers=headers)
    second = await api.post("/api/v1/generate", json=GEN, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] and second.headers["idempotent-replayed"] == "true"


async def test_batch_replay(api: httpx.AsyncClient) -> None:
    body = {"prompts": ["one", "two"], "model": "flux-schnell"}
    first = await api.post("/api/v1/generate/batch", json=body, headers={"Idempotency-Key": "b1"})
    second = await api.post("/api/v1/generate/batch", json=body, headers={"Idempotency-Key": "b1"})
    assert first.json()["id"] == second.json()["id"] and second.headers["idempotent-replayed"] == "true"
    assert await _count(api) == 2
