"""Rate limits shared through Redis (GCRA in one Lua script) and the fallback when Redis is gone."""

from __future__ import annotations

import asyncio

import pytest
from conftest import REDIS_URL
from redis.asyncio import Redis

from orchestrator.api.health import Readiness
from orchestrator.limits.redis_concurrency import RedisConcurrencyGate
from orchestrator.limits.redis_rate import RedisRateLimiter

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket


@pytest.fixture
async def redis() -> Redis:
    client = Redis.from_url(REDIS_URL, socket_timeout=2)
    yield client
    await client.aclose()


async def test_two_limiters_share_one_budget(redis, redis_prefix) -> None:
    # Two limiters are two processes' views: they must add up to one key's limit.
    first = RedisRateLimiter(redis, prefix=redis_prefix)
    second = RedisRateLimiter(redis, prefix=redis_prefix)
    decisions = [await (first if i % 2 else second).check("key_a", 10) for i in range(14)]
    allowed = [d for d in decisions if d.allowed]
    assert 10 <= len(allowed) <= 11  # one more may refill while the loop runs (6 s per request)
    assert decisions[0].remaining == 9 and decisions[0].limit == 10
    refused = decisions[-1]
    assert not refused.allowed and 0 < refused.retry_after <= 6.0
    assert int(refused.headers()["Retry-After"]) in range(1, 7)
    assert (await first.check("key_b", 10)).allowed  # subjects are independent
    assert first.degraded() is None


async def test_unreachable_redis_falls_back_to_a_share_of_the_limit(redis_prefix) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    limiter = RedisRateLimiter(dead, prefix=redis_prefix, fallback_processes=4)
    decisions = [await limiter.check("key_a", 20) for _ in range(6)]
    # 20 / 4 processes = 5 per process while Redis is away; never an exception.
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[0].limit == 20
    assert "per process" in (limiter.degraded() or "")
    await dead.aclose()


async def test_readyz_reports_the_fallback_and_requests_still_pass(start_server) -> None:
    server = await start_server(redis_url="redis://127.0.0.1:1/0", rate_limit_fallback_processes=2)
    key = await server.create_key(rate_limit_per_minute=10)
    async with server.client(key) as api:
        statuses = [(await api.get("/api/v1/models/dall-e-3")).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]  # 10 / 2 processes
        ready = await api.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded" and body["checks"]["redis"].startswith("error")
    assert any("per process" in reason for reason in body["degraded"])
    Readiness.model_validate(body)  # /readyz is declared as it answers


async def test_server_with_redis_limits_and_readyz(start_server, redis_prefix) -> None:
    # A patient client: on a busy machine a Redis answer can take longer than the production 0.5 s,
    # and the fallback (which this test is not about) would then admit more than the shared limit.
    server = await start_server(redis_url=REDIS_URL, redis_key_prefix=redis_prefix, redis_timeout_seconds=10)
    key = await server.create_key(rate_limit_per_minute=5)
    async with server.client(key) as api:
        responses = await asyncio.gather(*(api.get("/api/v1/models/dall-e-3") for _ in range(8)))
        assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 3
        limited = next(r for r in responses if r.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        ready = (await api.get("/readyz")).json()
    assert ready["status"] == "ok" and ready["checks"]["redis"] == "ok"


async def test_concurrency_counts_are_shared_by_all_processes(redis, redis_prefix) -> None:
    first = RedisConcurrencyGate(redis, prefix=redis_prefix)
    second = RedisConcurrencyGate(redis, prefix=redis_prefix)
    # Two processes, one principal capped at 2: the third active job must wait, wherever it lands.
    admitted = [
        await first.admit("p/key_a", 2),
        await second.admit("p/key_a", 2),
        await first.admit("p/key_a", 2),
    ]
    assert admitted == [True, True, False]
    assert first.active("p/key_a") == 3  # queued or running, counted once each
    assert await first.admit("p/key_b", 2)  # principals are independent
    await second.release("p/key_a")
    await second.release("p/key_a")
    assert await second.admit("p/key_a", 2) is True  # two active again, the second under the cap
    for _ in range(5):  # more releases than admits never go below zero
        await first.release("p/key_a")
    assert await first.admit("p/key_a", 1) is True


async def test_reset_replaces_counts_left_by_a_dead_process(redis, redis_prefix) -> None:
    dead = RedisConcurrencyGate(redis, prefix=redis_prefix)
    alive = RedisConcurrencyGate(redis, prefix=redis_prefix)
    for _ in range(3):
        await dead.admit("p/key_a", 3)  # then its process is killed: never released
    assert not await alive.admit("p/key_a", 3)
    await alive.reset({"p/key_a": 1, "p/key_c": 0})  # what the database says is really active
    assert alive.active("p/key_a") == 1 and alive.active("p/key_c") == 0
    assert await alive.admit("p/key_a", 3)


async def test_concurrency_gate_counts_locally_when_redis_is_unreachable(redis_prefix) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    gate = RedisConcurrencyGate(dead, prefix=redis_prefix)
    assert [await gate.admit("p/key_a", 1) for _ in range(2)] == [True, False]  # never an exception
    assert "database claim" in (gate.degraded() or "")
    await gate.release("p/key_a")
    assert gate.active("p/key_a") == 1
    await dead.aclose()
