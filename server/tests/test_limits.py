"""Rate limits, per-key concurrency and monthly budgets."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import jwt
import pytest
from support import eventually

from orchestrator.limits.rate import InProcessRateLimiter

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

GEN = {"prompt": "a paper boat", "model": "dall-e-3"}


class RunningJobs:
    """Which jobs run at once, from every job event the server publishes (none is missed, unlike
    polling the API, which a busy machine can make too slow to see a short run)."""

    def __init__(self) -> None:
        self.now: set[str] = set()
        self.snapshots: list[frozenset[str]] = []

    @classmethod
    def watch(cls, server) -> RunningJobs:
        running = cls()
        server.app.state.services.hub.add_listener(running.hear)
        return running

    def hear(self, event) -> None:
        if event.status == "running":
            self.now.add(event.generation_id)
        else:
            self.now.discard(event.generation_id)
        self.snapshots.append(frozenset(self.now))

    @property
    def most(self) -> int:
        return max(map(len, self.snapshots), default=0)

    def most_of(self, ids) -> int:
        wanted = set(ids)
        return max((len(s & wanted) for s in self.snapshots), default=0)


async def _all_ended(api: httpx.AsyncClient, jobs: list[dict]) -> list[str]:
    async def states() -> list[str]:
        return [(await api.get(f"/api/v1/generations/{j['id']}")).json()["status"] for j in jobs]

    return await eventually(states, lambda s: all(x in ("succeeded", "failed", "canceled") for x in s))


def test_gcra_allows_burst_then_spaces_requests() -> None:
    now = [100.0]
    limiter = InProcessRateLimiter(clock=lambda: now[0])
    decisions = [limiter.hit("k", 3) for _ in range(3)]
    assert all(d.allowed for d in decisions) and [d.remaining for d in decisions] == [2, 1, 0]
    refused = limiter.hit("k", 3)
    assert not refused.allowed and refused.retry_after == 20.0 and refused.headers()["Retry-After"] == "20"
    now[0] += 20
    assert limiter.hit("k", 3).allowed
    assert not limiter.hit("k", 3).allowed
    assert limiter.hit("other", 3).allowed  # keys are independent


async def test_429_with_usable_retry_after(server) -> None:
    key = await server.create_key(rate_limit_per_minute=60)
    async with server.client(key) as api:
        started = time.monotonic()
        admitted: list[httpx.Response] = []
        limited = None
        for _ in range(200):
            response = await api.get("/api/v1/models/dall-e-3")
            if response.status_code == 429:
                limited = response
                break
            assert response.status_code == 200
            admitted.append(response)
        elapsed = time.monotonic() - started
        # The whole minute's allowance at once, plus one request per second that passed meanwhile
        # (a loaded machine may take more than a second to send the first 60).
        assert limited is not None and 60 <= len(admitted) <= 61 + int(elapsed)
        assert admitted[0].headers["ratelimit-limit"] == "60"
        assert admitted[0].headers["ratelimit-remaining"] == "59"
        error = limited.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 2
        await asyncio.sleep(retry_after)  # what a client is told to do
        assert (await api.get("/api/v1/models/dall-e-3")).status_code == 200


async def test_concurrency_cap_makes_extra_jobs_wait(start_server) -> None:
    server = await start_server(offline_latency_seconds=0.3)
    running = RunningJobs.watch(server)
    key = await server.create_key(max_concurrent=1)
    async with server.client(key) as api:
        jobs = [
            (await api.post("/api/v1/generate", json=GEN, headers={"Prefer": "respond-async"})).json()
            for _ in range(3)
        ]
        states = await _all_ended(api, jobs)
        assert states == ["succeeded"] * 3 and running.most == 1


async def test_monthly_budget_is_enforced_with_402(server) -> None:
    key = await server.create_key(monthly_budget=Decimal("0.10"))
    async with server.client(key) as api:
        first = await api.post("/api/v1/generate", json={**GEN, "quality": "hd"})  # 0.08
        second = await api.post("/api/v1/generate", json=GEN)  # 0.04 would exceed
        cheaper = await api.post("/api/v1/generate", json={**GEN, "model": "flux-schnell"})  # 0.003 fits
    assert first.status_code == 200 and cheaper.status_code == 200
    assert second.status_code == 402
    error = second.json()["error"]
    assert error["type"] == "budget_exceeded" and error["spent"] == 0.08 and error["budget"] == 0.1


def test_a_fresh_bucket_admits_its_first_request_at_any_clock_reading() -> None:
    # Clock readings where (now + 60) - 60 rounds above now used to refuse the very first request.
    for reading in (65_483.98140820866, 16_342.204153625416, 3.3):
        limiter = InProcessRateLimiter(clock=lambda reading=reading: reading)
        assert limiter.hit("k", 1).allowed, reading
        assert not limiter.hit("k", 1).allowed


async def test_bearer_token_principals_are_capped_like_keys(start_server) -> None:
    """A token has no key row; its jobs are capped per (project, subject) with the key default."""
    secret = "s3cret-for-tests-0123456789abcdef"
    server = await start_server(jwt_secret=secret, offline_latency_seconds=0.3, default_max_concurrent=2)
    running = RunningJobs.watch(server)
    claims = {"project": "gamma", "scope": "generate read", "mode": "test", "exp": int(time.time()) + 120}
    token = jwt.encode({**claims, "sub": "user-1"}, secret, algorithm="HS256")
    other = jwt.encode({**claims, "sub": "user-2"}, secret, algorithm="HS256")
    async with server.client(token) as api, server.client(other) as api_other:
        jobs = [
            (await api.post("/api/v1/generate", json=GEN, headers={"Prefer": "respond-async"})).json()
            for _ in range(6)
        ]
        # Another subject of the same project has its own cap: it is not queued behind user-1.
        second = await api_other.post("/api/v1/generate", json=GEN, headers={"Prefer": "respond-async"})
        assert second.json()["status"] == "running"
        states = await _all_ended(api, jobs)
    assert states == ["succeeded"] * 6
    assert running.most_of(j["id"] for j in jobs) == 2
