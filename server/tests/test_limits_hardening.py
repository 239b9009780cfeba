"""Keys follow mode, budgets hold on every path, limits are global or say they aren't.

Regressions of issue 18's key, budget, idempotency and limit findings; each failed before the fix.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from decimal import Decimal
from importlib import resources
from typing import Any

import httpx
import openai
import yaml
from conftest import free_port
from sqlalchemy import func, select
from support import cli_env

from orchestrator.db.models import Generation
from orchestrator.limits.deployment import default_workers, workers_refusal
from orchestrator.settings import Settings

DEAD_REDIS = "redis://127.0.0.1:1/0"
SLOW = {"prompt": "slow", "model": "dall-e-2"}


async def _jobs(server: Any, **where: Any) -> list[Generation]:
    async with server.app.state.services.db.read() as session:
        stmt = select(Generation).where(*(getattr(Generation, k) == v for k, v in where.items()))
        return list((await session.execute(stmt)).scalars())


# ---------------------------------------------------------------- keys follow mode


async def test_a_test_admin_key_neither_lists_nor_revokes_live_keys(server) -> None:
    live = await server.create_key(mode="live", scopes=("read", "admin"))
    test = await server.create_key(mode="test", scopes=("read", "admin"))
    async with server.client(live) as live_api, server.client(test) as test_api:
        every = (await live_api.get("/api/v1/keys")).json()["data"]
        live_ids = [k["id"] for k in every if k["mode"] == "live"]
        assert live_ids and any(k["mode"] == "test" for k in every)
        seen = (await test_api.get("/api/v1/keys")).json()["data"]
        assert seen and {k["mode"] for k in seen} == {"test"}
        refused = await test_api.delete(f"/api/v1/keys/{live_ids[0]}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "key_not_found"
        assert (await live_api.get("/api/v1/keys")).status_code == 200  # the live key still works
        assert (await live_api.delete(f"/api/v1/keys/{seen[0]['id']}")).status_code == 200


# ---------------------------------------------------------------- budgets


def _catalog_without(tmp_path: Any, model: str, size: str) -> Any:
    catalog = yaml.safe_load(resources.files("orchestrator.catalog").joinpath("models.yaml").read_text())
    catalog["models"][model]["pricing"].pop(size)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


async def test_a_budgeted_key_is_refused_a_size_without_a_price(start_server, tmp_path) -> None:
    server = await start_server(catalog_path=_catalog_without(tmp_path, "dall-e-3", "1792x1024"))
    budgeted = await server.create_key(monthly_budget=Decimal("0.10"))
    unlimited = await server.create_key()
    body = {"prompt": "wide", "model": "dall-e-3", "size": "1792x1024"}
    async with server.client(budgeted) as api:
        refused = [await api.post("/api/v1/generate", json=body) for _ in range(3)]
        openai_door = await api.post("/v1/images/generations", json=body)
    for response in [*refused, openai_door]:
        error = response.json()["error"]
        assert response.status_code in (400, 422) and error["param"] == "size", response.text
        assert "no price" in error["message"] and "monthly budget" in error["message"]
    assert await _jobs(server, size="1792x1024") == []  # nothing stored, nothing admitted
    async with server.client(unlimited) as api:
        assert (await api.post("/api/v1/generate", json=body)).status_code == 200


async def test_keys_made_by_a_budgeted_key_share_its_budget(server) -> None:
    parent = await server.create_key(monthly_budget=Decimal("0.10"))
    async with server.client(parent) as api:
        made = [await api.post("/api/v1/keys", json={"name": f"child {i}"}) for i in range(5)]
    children = [m.json()["key"] for m in made]
    statuses = []
    for secret in [parent, *children]:
        async with server.client(secret) as api:
            for _ in range(2):  # $0.04 each: 12 of them would be $0.48
                response = await api.post("/api/v1/generate", json={"prompt": "p", "model": "dall-e-3"})
                statuses.append(response.status_code)
                if response.status_code == 402:
                    assert "draws from" in response.json()["error"]["message"] or secret == parent
    spent = sum(job.cost_micros or 0 for job in await _jobs(server, status="succeeded"))
    assert spent <= 100_000, f"${spent / 1e6} spent under a $0.10 budget"
    assert statuses.count(200) == 2 and statuses.count(402) == 10


# ---------------------------------------------------------------- idempotency


async def test_an_empty_idempotency_key_is_a_400_naming_the_header(api) -> None:
    headers = {"Idempotency-Key": ""}
    answers = [
        await api.post("/api/v1/generate", json={"prompt": "p", "model": "dall-e-2"}, headers=headers),
        await api.post("/v1/images/generations", json={"prompt": "p"}, headers=headers),
        await api.post(
            "/api/v1/generate/batch", json={"prompts": ["a"], "model": "dall-e-2"}, headers=headers
        ),
    ]
    for response in answers:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "Idempotency-Key"
    history = (await api.get("/api/v1/generations")).json()["data"]
    assert history == []


async def test_one_openai_sdk_call_makes_one_generation_and_one_charge(start_server) -> None:
    # The server's wait (0.5 s) is shorter than the job (2.5 s): the first attempt gets a 504 and
    # the SDK retries it, with its default retries and no Idempotency-Key.
    server = await start_server(sync_wait_seconds=0.5, offline_latency_seconds=2.5)
    key = await server.create_key(monthly_budget=Decimal("1.00"))
    client = openai.OpenAI(api_key=key, base_url=server.url + "/v1", timeout=20)

    def call() -> str:
        try:
            return client.images.generate(model="dall-e-3", prompt="one call").data[0].url or ""
        except openai.APIStatusError as exc:
            return f"error {exc.status_code}"

    await asyncio.wait_for(asyncio.to_thread(call), 60)
    jobs = await _jobs(server, prompt="one call")
    assert len(jobs) == 1, f"{len(jobs)} generations from one SDK call"
    spent = sum(job.cost_micros or 0 for job in jobs)
    assert spent == 40_000
    # A new call with the same body is a new generation, not a replay.
    await asyncio.wait_for(asyncio.to_thread(call), 60)
    assert len(await _jobs(server, prompt="one call")) == 2


async def test_the_openai_door_answers_before_the_sdk_read_timeout(start_server) -> None:
    # The SDK would give up reading after 4 s and retry; the server answers its 504 first (at
    # about 2 s) and the retries join the same generation.
    server = await start_server(offline_latency_seconds=30)
    key = await server.create_key()
    client = openai.OpenAI(api_key=key, base_url=server.url + "/v1", timeout=4, max_retries=1)

    def call() -> BaseException:
        try:
            client.images.generate(model="dall-e-2", prompt="timed")
        except openai.APIError as exc:
            return exc
        raise AssertionError("a 30 s job finished")

    error = await asyncio.wait_for(asyncio.to_thread(call), 60)
    assert isinstance(error, openai.APIStatusError) and error.status_code == 504, error
    jobs = await _jobs(server, prompt="timed")
    assert len(jobs) == 1
    async with server.client(key) as api:
        await api.post(f"/api/v1/generations/{jobs[0].id}/cancel")


# ---------------------------------------------------------------- rate limits


async def test_each_prompt_of_a_batch_counts_against_the_rate_limit(server) -> None:
    key = await server.create_key(rate_limit_per_minute=3)
    async with server.client(key) as api:
        response = await api.post(
            "/api/v1/generate/batch",
            json={"prompts": [f"p{i}" for i in range(6)], "model": "dall-e-2", "batch_size": 1},
        )
        assert response.status_code == 200, response.text
        items = response.json()["data"]
        assert [i["status"] for i in items] == ["succeeded"] * 3 + ["failed"] * 3
        assert {i["error"]["code"] for i in items[3:]} == {"rate_limit_exceeded"}
        assert (await api.get("/api/v1/models")).status_code == 429  # the minute is spent
    assert len(await _jobs(server)) == 3


def test_without_redis_serve_defaults_to_one_process_and_refuses_more() -> None:
    pg = Settings(_env_file=None, database_url="postgresql+asyncpg://x/y")  # type: ignore[call-arg]
    assert default_workers(pg) == 1
    refusal = workers_refusal(pg, 4) or ""
    assert "ORCHESTRATOR_REDIS_URL" in refusal and "ORCHESTRATOR_PER_PROCESS_LIMITS" in refusal
    assert workers_refusal(pg, 1) is None
    with_redis = Settings(_env_file=None, database_url="postgresql+asyncpg://x/y", redis_url="redis://r")  # type: ignore[call-arg]
    assert default_workers(with_redis) == (os.cpu_count() or 1) and workers_refusal(with_redis, 4) is None
    allowed = Settings(_env_file=None, database_url="postgresql+asyncpg://x/y", per_process_limits=True)  # type: ignore[call-arg]
    assert workers_refusal(allowed, 4) is None


def test_serve_with_several_processes_and_no_redis_refuses_to_start(tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    command = [
        sys.executable,
        "-m",
        "orchestrator.cli",
        "serve",
        "--port",
        str(free_port()),
        "--workers",
        "3",
    ]
    # Its own session: if it did start (the old behaviour), every process it forked is ended.
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("serve started 3 processes without Redis") from None
    assert proc.returncode != 0
    assert "--workers 3 without Redis" in stderr and "ORCHESTRATOR_PER_PROCESS_LIMITS" in stderr


async def test_per_process_limits_split_the_rate_limit_and_readyz_says_so(start_server) -> None:
    server = await start_server(workers=2, per_process_limits=True)
    key = await server.create_key(rate_limit_per_minute=4)
    async with server.client(key) as api:
        statuses = [(await api.get("/api/v1/models")).status_code for _ in range(3)]
        ready = (await api.get("/readyz")).json()
    assert statuses == [200, 200, 429]  # 4 / 2 processes: the two together never exceed 4
    assert ready["status"] == "degraded"
    assert any("rate limits are per process" in reason for reason in ready["degraded"])
    assert any("database claim" in reason for reason in ready["degraded"])


async def test_with_redis_down_the_concurrency_cap_holds_across_processes(start_server) -> None:
    one = await start_server(redis_url=DEAD_REDIS, offline_latency_seconds=1.0)
    two = await start_server(redis_url=DEAD_REDIS, offline_latency_seconds=1.0)
    key = await one.create_key(max_concurrent=1)
    headers = {"Prefer": "respond-async"}
    async with one.client(key) as a, two.client(key) as b:
        for i in range(4):
            api = a if i % 2 else b
            response = await api.post(
                "/api/v1/generate", json={"prompt": f"c{i}", "model": "dall-e-2"}, headers=headers
            )
            assert response.status_code == 202
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            async with one.app.state.services.db.read() as session:
                counts = dict(
                    (
                        await session.execute(
                            select(Generation.status, func.count()).group_by(Generation.status)
                        )
                    ).all()
                )
            most = max(most, counts.get("running", 0))
            if counts.get("succeeded", 0) == 4:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(watch(), 30)
    assert most == 1, f"{most} jobs of a max_concurrent=1 key ran at once"


# ---------------------------------------------------------------- images


async def test_signed_image_responses_forbid_content_sniffing(api) -> None:
    made = (await api.post("/api/v1/generate", json={"prompt": "p", "model": "dall-e-2"})).json()
    url = made["images"][0]["url"]
    async with httpx.AsyncClient(timeout=10) as plain:
        image = await plain.get(url)
    assert image.status_code == 200 and image.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------- event streams


async def _open_stream(api: httpx.AsyncClient, generation_id: str) -> Any:
    stream = api.stream("GET", f"/api/v1/generations/{generation_id}/events")
    response = await stream.__aenter__()
    return stream, response


async def test_event_streams_are_capped_per_key(start_server) -> None:
    server = await start_server(max_streams_per_key=2, offline_latency_seconds=30)
    key = await server.create_key()
    async with server.client(key) as api:
        made = await api.post(
            "/api/v1/generate",
            json={"prompt": "slow", "model": "dall-e-2"},
            headers={"Prefer": "respond-async"},
        )
        job = made.json()["id"]
        held = [await _open_stream(api, job) for _ in range(2)]
        assert all(response.status_code == 200 for _, response in held)
        refused = await api.get(f"/api/v1/generations/{job}/events")
        assert refused.status_code == 429 and "open event streams" in refused.json()["error"]["message"]
        await held[0][0].__aexit__(None, None, None)
        again = await _open_stream(api, job)  # a closed stream gives its slot back
        assert again[1].status_code == 200
        for stream, _ in [held[1], again]:
            await stream.__aexit__(None, None, None)
        await api.post(f"/api/v1/generations/{job}/cancel")


async def test_an_event_stream_ends_when_its_key_is_revoked(start_server) -> None:
    server = await start_server(offline_latency_seconds=30)
    admin = await server.create_key()
    reader = await server.create_key(scopes=("generate", "read"))
    async with server.client(reader) as api, server.client(admin) as admin_api:
        made = await api.post(
            "/api/v1/generate",
            json={"prompt": "slow", "model": "dall-e-2"},
            headers={"Prefer": "respond-async"},
        )
        job = made.json()["id"]
        async with api.stream("GET", f"/api/v1/generations/{job}/events") as response:
            lines = response.aiter_lines()
            assert (await asyncio.wait_for(anext(lines), 5)).startswith("retry:")
            keys = (await admin_api.get("/api/v1/keys")).json()["data"]
            reader_id = next(k["id"] for k in keys if reader.startswith(k["prefix"]))
            assert (await admin_api.delete(f"/api/v1/keys/{reader_id}")).status_code == 200

            async def rest() -> list[str]:
                return [line async for line in lines]

            tail = await asyncio.wait_for(rest(), 5)  # ends: not held until the job's 30 s
        assert "event: revoked" in tail
        await admin_api.post(f"/api/v1/generations/{job}/cancel")
