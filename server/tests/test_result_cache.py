"""The opt-in result cache: identical seeded requests call the provider once; the hit is a new
generation at $0, marked cached, sharing the source's files. Off by default, never across
projects or modes, never for unseeded requests unless asked, and not past its TTL. Counted by
the provider-call metric of the real app (the offline renderer is the provider in test mode)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import sample_value

pytestmark = pytest.mark.asgi

SEEDED = {"prompt": "a red kite over dunes", "model": "stable-image-core", "seed": 7}
PRICE = 0.03  # stable-image-core, 1024x1024


async def _metrics(server: Any) -> dict[str, Any]:
    async with server.client(await server.create_key(mode="live")) as scraper:
        text = (await scraper.get("/metrics")).text
    return {family.name: family for family in text_string_to_metric_families(text)}


async def _provider_calls(server: Any) -> float:
    families = await _metrics(server)
    return sample_value(families, "orchestrator_provider_request_duration_seconds_count", provider="offline")


async def _lookups(server: Any, result: str) -> float:
    return sample_value(await _metrics(server), "orchestrator_cache_lookups_total", result=result)


async def _post(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/v1/generate", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_cache_on_second_identical_seeded_request_is_a_free_hit(server, api) -> None:
    first = await _post(api, SEEDED | {"cache": True})
    second = await _post(api, SEEDED | {"cache": True})
    assert await _provider_calls(server) == 1
    assert first["cost"] == PRICE and first["cached"] is False and first["cached_from"] is None
    assert second["id"] != first["id"] and second["status"] == "succeeded"
    assert second["cost"] == 0 and second["cached"] is True and second["cached_from"] == first["id"]
    # Shared, not copied: both point at the same stored file.
    assert len(second["images"]) == 1
    async with server.app.state.services.db.read() as session:
        from orchestrator.db.models import Generation

        a = await session.get(Generation, first["id"])
        b = await session.get(Generation, second["id"])
        assert a is not None and b is not None
        assert [i.storage_key for i in a.images] == [i.storage_key for i in b.images]
    image = await api.get(second["image_url"])
    assert image.status_code == 200 and image.content == (await api.get(first["image_url"])).content
    # History shows both; usage counts the hit, its savings, and charges once.
    got = (await api.get(f"/api/v1/generations/{second['id']}")).json()
    assert got["cached"] is True and got["cached_from"] == first["id"]
    usage = (await api.get("/api/v1/usage", params={"group_by": "cache"})).json()
    assert usage["total_generations"] == 2 and usage["total_cost"] == PRICE
    assert usage["cached_generations"] == 1 and usage["cache_savings"] == PRICE
    groups = {g["key"]: g for g in usage["groups"]}
    assert groups["cached"]["generations"] == 1 and groups["cached"]["cost"] == 0
    assert groups["uncached"]["generations"] == 1 and groups["uncached"]["cost"] == PRICE
    assert await _lookups(server, "hit") == 1 and await _lookups(server, "miss") == 1


async def test_cache_off_calls_the_provider_each_time(server, api) -> None:
    for body in (SEEDED, SEEDED, SEEDED | {"cache": False}):
        assert (await _post(api, body))["cached"] is False
    assert await _provider_calls(server) == 3
    assert await _lookups(server, "hit") == 0 and await _lookups(server, "miss") == 0


async def test_no_seed_is_cached_only_when_asked_always(server, api) -> None:
    unseeded = {"prompt": "fog over a harbour", "model": "stable-image-core"}
    a = await _post(api, unseeded | {"cache": True})
    b = await _post(api, unseeded | {"cache": True})
    assert not a["cached"] and not b["cached"]
    assert await _provider_calls(server) == 2
    c = await _post(api, unseeded | {"cache": "always"})
    d = await _post(api, unseeded | {"cache": "always"})
    assert not c["cached"] and d["cached"] and d["cached_from"] == c["id"]
    assert await _provider_calls(server) == 3


async def test_the_key_default_opts_seeded_requests_in_and_a_request_can_opt_out(server) -> None:
    key = await server.create_key(cache_default=True)
    async with server.client(key) as api:
        first = await _post(api, SEEDED)
        hit = await _post(api, SEEDED)
        opted_out = await _post(api, SEEDED | {"cache": False})
    assert hit["cached_from"] == first["id"] and not opted_out["cached"]
    assert await _provider_calls(server) == 2


async def test_never_across_projects_or_modes(server) -> None:
    keys = [
        await server.create_key(project="alpha"),
        await server.create_key(project="beta"),
        await server.create_key(project="alpha", mode="live"),
    ]
    results = []
    for key in keys:
        async with server.client(key) as api:
            response = await api.post("/api/v1/generate", json=SEEDED | {"cache": True})
            results.append(response)
    # Test keys of two projects each paid once; the live key (no provider configured) never got a
    # test-mode result: it was refused as live requests are, not served from the test cache.
    assert [r.status_code for r in results[:2]] == [200, 200]
    assert not any(r.json()["cached"] for r in results[:2])
    assert results[2].status_code == 503, results[2].text
    assert await _provider_calls(server) == 2


async def test_ttl_expiry_is_a_miss(start_server) -> None:
    server = await start_server(cache_ttl_seconds=0.5)
    key = await server.create_key()
    async with server.client(key) as api:
        first = await _post(api, SEEDED | {"cache": True})
        await asyncio.sleep(1.0)  # the TTL itself is what is tested: it must pass
        second = await _post(api, SEEDED | {"cache": True})
    assert not second["cached"] and second["id"] != first["id"]
    assert await _provider_calls(server) == 2


async def test_a_project_switched_off_never_caches(start_server) -> None:
    server = await start_server(cache_disabled_projects=["quiet"])
    key = await server.create_key(project="quiet")
    async with server.client(key) as api:
        await _post(api, SEEDED | {"cache": True})
        assert not (await _post(api, SEEDED | {"cache": True}))["cached"]
    assert await _provider_calls(server) == 2


async def test_a_result_stored_after_the_peek_still_makes_a_hit(server, api, monkeypatch) -> None:
    """A leader can start and succeed between a request's first look and its insert (then no
    index entry shows it): the insert transaction looks for the result again."""
    first = await _post(api, SEEDED | {"cache": True})
    from orchestrator.generation.cache import ResultCache

    peeks: list[bool] = []
    real_peek = ResultCache._peek

    async def late_peek(self: ResultCache, job: Any) -> bool:
        seen = await real_peek(self, job)
        peeks.append(seen)
        return seen if len(peeks) > 1 else False  # the first look came before the result

    monkeypatch.setattr(ResultCache, "_peek", late_peek)
    again = await _post(api, SEEDED | {"cache": True})
    assert again["cached"] is True and again["cached_from"] == first["id"] and again["cost"] == 0
    assert peeks == [True, True]
    assert await _provider_calls(server) == 1


async def test_any_other_field_is_a_miss(server, api) -> None:
    await _post(api, SEEDED | {"cache": True})
    for change in ({"seed": 8}, {"prompt": "a blue kite"}, {"negative_prompt": "rain"}, {"size": "1344x768"}):
        assert not (await _post(api, SEEDED | change | {"cache": True}))["cached"], change
    assert await _provider_calls(server) == 5


async def _storage_keys(server: Any, generation_id: str) -> list[str]:
    from orchestrator.db.models import Generation

    async with server.app.state.services.db.read() as session:
        row = await session.get(Generation, generation_id)
        assert row is not None
        return [k for i in row.images for k in (i.storage_key, i.thumbnail_key)]


async def test_deleting_the_source_keeps_the_hit_files(start_server) -> None:
    server = await start_server(gallery_undo_seconds=0)
    storage = server.app.state.services.storage
    key = await server.create_key()
    async with server.client(key) as api:
        first = await _post(api, SEEDED | {"cache": True})
        hit = await _post(api, SEEDED | {"cache": True})
        files = await _storage_keys(server, first["id"])
        assert files and files == await _storage_keys(server, hit["id"])  # shared, not copied
        assert (await api.get(hit["thumbnail_url"])).status_code == 200  # made on first request
        assert (await api.delete(f"/api/v1/gallery/{first['id']}")).status_code == 200
        assert await server.app.state.services.gallery.purge_due() == 1
        again = (await api.get(f"/api/v1/generations/{hit['id']}")).json()
        assert (await api.get(again["image_url"])).status_code == 200
        for name in files:
            await storage.get(name)  # still stored
        # A deleted source serves no further hits; the living hit still does.
        assert (await _post(api, SEEDED | {"cache": True}))["cached"]
        for job in (await api.get("/api/v1/generations")).json()["data"][:2]:  # the two living ones
            assert (await api.delete(f"/api/v1/gallery/{job['id']}")).status_code == 200, job
        assert await server.app.state.services.gallery.purge_due() == 2
        for name in files:  # the last sharer purged removed the files
            with pytest.raises(Exception):  # noqa: B017 - local and S3 storage raise their own
                await storage.get(name)
        fresh = await _post(api, SEEDED | {"cache": True})
        assert not fresh["cached"] and (await api.get(fresh["image_url"])).status_code == 200
    assert await _provider_calls(server) == 2


async def test_bad_cache_values_are_refused_naming_the_field(api) -> None:
    for value in ("yes", 1, "true"):
        response = await api.post("/api/v1/generate", json=SEEDED | {"cache": value})
        assert response.status_code == 422, response.text
        assert "cache" in response.text


# ---------------------------------------------------------------------------- in-flight dedupe


async def test_identical_requests_in_flight_share_one_provider_call(start_server) -> None:
    server = await start_server(offline_latency_seconds=1.0)
    key = await server.create_key(max_concurrent=50)
    async with server.client(key) as api:
        responses = await asyncio.gather(
            *(api.post("/api/v1/generate", json=SEEDED | {"cache": True}) for _ in range(10))
        )
        usage = (await api.get("/api/v1/usage")).json()
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    jobs = [r.json() for r in responses]
    leaders = [j for j in jobs if not j["cached"]]
    assert len(leaders) == 1 and leaders[0]["cost"] == PRICE
    assert all(j["cached_from"] == leaders[0]["id"] and j["cost"] == 0 for j in jobs if j["cached"])
    assert all(len(j["images"]) == 1 and j["status"] == "succeeded" for j in jobs)
    assert await _provider_calls(server) == 1
    assert usage["total_generations"] == 10 and usage["total_cost"] == PRICE
    assert usage["cached_generations"] == 9 and usage["cache_savings"] == pytest.approx(9 * PRICE)


async def test_a_canceled_leader_ends_its_followers_uncharged(start_server) -> None:
    server = await start_server(offline_latency_seconds=3.0)
    key = await server.create_key(max_concurrent=50)
    async with server.client(key, headers={"Prefer": "respond-async"}) as api:
        leader = (await api.post("/api/v1/generate", json=SEEDED | {"cache": True})).json()
        follower = (await api.post("/api/v1/generate", json=SEEDED | {"cache": True})).json()
        assert follower["cached_from"] == leader["id"] and follower["status"] == "queued"
        assert (await api.post(f"/api/v1/generations/{leader['id']}/cancel")).status_code == 200
        ended = (await api.get(f"/api/v1/generations/{follower['id']}")).json()
        usage = (await api.get("/api/v1/usage")).json()
    assert ended["status"] == "canceled" and ended["cost"] == 0 and ended["error"]["code"] == "canceled"
    assert usage["total_cost"] == 0 and usage["canceled_generations"] == 2


async def test_a_follower_canceled_alone_leaves_its_leader_running(start_server) -> None:
    server = await start_server(offline_latency_seconds=1.0)
    key = await server.create_key(max_concurrent=50)
    async with server.client(key, headers={"Prefer": "respond-async"}) as api:
        leader = (await api.post("/api/v1/generate", json=SEEDED | {"cache": True})).json()
        follower = (await api.post("/api/v1/generate", json=SEEDED | {"cache": True})).json()
        assert (await api.post(f"/api/v1/generations/{follower['id']}/cancel")).status_code == 200
        done = await api.post(
            "/api/v1/generate", json=SEEDED | {"cache": True}, headers={"Prefer": "wait=10"}
        )
        final = (await api.get(f"/api/v1/generations/{leader['id']}")).json()
    assert final["status"] == "succeeded" and final["cost"] == PRICE
    assert done.json()["cached_from"] == leader["id"]
    assert await _provider_calls(server) == 1


# ---------------------------------------------------------------------------- the other doors


async def test_operations_are_keyed_by_input_content_however_sent(server, api) -> None:
    from image_inputs import png

    source, other = png(96, 64, (200, 40, 40)), png(96, 64, (40, 200, 40))

    async def variation(data: bytes, cache: str = "true") -> dict[str, Any]:
        response = await api.post(
            "/api/v1/images/variations",
            data={"model": "dall-e-2", "seed": "3", "cache": cache},
            files={"image": ("any-name.png", data, "image/png")},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    first = await variation(source)
    same = await variation(source)
    different = await variation(other)
    off = await variation(source, "false")
    assert same["cached_from"] == first["id"] and same["cost"] == 0
    assert not different["cached"] and not off["cached"]
    assert await _provider_calls(server) == 3
    refused = await api.post(
        "/api/v1/images/variations",
        data={"model": "dall-e-2", "seed": "3", "cache": "sometimes"},
        files={"image": ("a.png", source, "image/png")},
    )
    assert refused.status_code == 422 and "cache" in refused.text


async def test_openai_door_caches_only_when_asked_always(server, api) -> None:
    body = {"prompt": "a paper boat", "model": "dall-e-3"}
    for extra in ({}, {"cache": True}, {"cache": "always"}, {"cache": "always"}):
        response = await api.post("/v1/images/generations", json=body | extra)
        assert response.status_code == 200, response.text
    # No seed at this door: only the second "always" request is a hit.
    assert await _provider_calls(server) == 3
    history = (await api.get("/api/v1/generations")).json()["data"]
    assert [g["cached"] for g in history] == [True, False, False, False]


@pytest.mark.timeout(120)
async def test_cli_and_api_create_keys_with_the_cache_default(server, api, tmp_path) -> None:
    from support import cli_env, run_cli

    made = await api.post("/api/v1/keys", json={"name": "cached", "cache": True})
    assert made.status_code == 201 and made.json()["cache"] is True, made.text
    assert (await api.post("/api/v1/keys", json={"name": "x", "cache": "yes"})).status_code == 422
    env = cli_env(server.settings.data_dir, server.settings.db_url)
    created = await asyncio.to_thread(run_cli, ["keys", "create", "--name", "c", "--cache", "--json"], env)
    plain = await asyncio.to_thread(run_cli, ["keys", "create", "--name", "p", "--json"], env)
    assert created["cache"] is True and plain["cache"] is False
    async with server.client(created["key"]) as cached:
        first = await _post(cached, SEEDED)
        assert (await _post(cached, SEEDED))["cached_from"] == first["id"]


def test_the_key_never_matches_across_projects_or_modes() -> None:
    from orchestrator.auth.principal import Principal
    from orchestrator.catalog.catalog import load_catalog
    from orchestrator.generation.cache import cache_key
    from orchestrator.generation.params import SubmitParams
    from orchestrator.generation.request import Planner
    from orchestrator.generation.routing import Router
    from orchestrator.generation.validation import resolve
    from orchestrator.providers.offline import OfflineRenderer

    catalog = load_catalog(None)
    planner = Planner(catalog, Router(catalog, {}, OfflineRenderer(0)))
    params = SubmitParams("a kite", "stable-image-core", None, None, None, 1, 7, None, {}, cache=True)
    plan = planner.plan(resolve(catalog, params, max_n=4), livemode=False)

    def key(project: str, livemode: bool, **change: Any) -> str:
        principal = Principal(project=project, livemode=livemode, scopes=frozenset(), subject="s")
        return cache_key(principal, params.__class__(**{**_fields(params), **change}), plan)

    base = key("a", False)
    assert base == key("a", False, metadata={"any": "thing"})  # metadata decides no pixels
    others = [key("b", False), key("a", True), key("a", False, seed=8), key("a", False, prompt="a kit")]
    assert base not in others and len(set(others)) == len(others)


def _fields(params: Any) -> dict[str, Any]:
    return {name: getattr(params, name) for name in params.__dataclass_fields__}


async def test_a_leader_lost_by_recovery_fails_its_followers_uncharged(start_server) -> None:
    from datetime import UTC, datetime, timedelta

    from orchestrator.db.models import Generation

    server = await start_server(run_workers=False, job_max_attempts=1)
    key = await server.create_key(max_concurrent=50)
    services = server.app.state.services
    async with server.client(key, headers={"Prefer": "respond-async"}) as api:
        leader = (await api.post("/api/v1/generate", json=SEEDED | {"cache": True})).json()
        follower = (await api.post("/api/v1/generate", json=SEEDED | {"cache": True})).json()
        assert follower["cached_from"] == leader["id"]
        past = datetime.now(UTC) - timedelta(minutes=1)

        async def crash(session: Any) -> None:  # the leader's worker died mid-run
            row = await session.get(Generation, leader["id"])
            row.status, row.lease_owner, row.lease_expires_at, row.attempts = "running", "gone", past, 1

        await services.db.transaction(crash)
        await services.generations.lifecycle.recover(max_attempts=1)
        ended = (await api.get(f"/api/v1/generations/{follower['id']}")).json()
        usage = (await api.get("/api/v1/usage")).json()
    assert ended["status"] == "failed" and ended["error"]["code"] == "worker_lost" and ended["cost"] == 0
    assert usage["failed_generations"] == 2 and usage["total_cost"] == 0


async def test_a_hit_and_a_follower_send_their_webhooks(start_server) -> None:
    import json

    from webhook_receiver import webhook_receiver

    server = await start_server(
        offline_latency_seconds=1.0, webhook_allow_private_targets=True, webhook_retry_base_seconds=0.2
    )
    key = await server.create_key(max_concurrent=50)
    with webhook_receiver() as receiver:
        async with server.client(key) as api:
            assert (await api.post("/api/v1/webhooks", json={"url": receiver.url})).status_code == 201
            both = await asyncio.gather(*(_post(api, SEEDED | {"cache": True}) for _ in range(2)))
            hit = await _post(api, SEEDED | {"cache": True})
            deliveries = await asyncio.to_thread(receiver.wait_for, 3)
    events = {json.loads(d.body)["data"]["id"]: json.loads(d.body)["type"] for d in deliveries}
    assert events == {job["id"]: "generation.succeeded" for job in (*both, hit)}


async def test_idempotency_comes_before_the_cache_and_a_spent_budget_still_gets_hits(server) -> None:
    key = await server.create_key(monthly_budget=Decimal(str(PRICE)))
    async with server.client(key) as api:
        first = await _post(api, SEEDED | {"cache": True})
        headers = {"Idempotency-Key": "hit-once"}
        hit = await api.post("/api/v1/generate", json=SEEDED | {"cache": True}, headers=headers)
        again = await api.post("/api/v1/generate", json=SEEDED | {"cache": True}, headers=headers)
        # The budget is spent: a new provider call is refused, a $0 hit is not.
        refused = await api.post("/api/v1/generate", json=SEEDED | {"seed": 8, "cache": True})
        history = (await api.get("/api/v1/generations")).json()["data"]
    assert hit.status_code == 200 and hit.json()["cached_from"] == first["id"]
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == hit.json()["id"]
    assert refused.status_code == 402, refused.text
    assert len(history) == 2 and await _provider_calls(server) == 1
