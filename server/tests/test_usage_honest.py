"""Usage that tells the truth: totals equal history for every status and group, key names,
clear 422s for a bad ``group_by`` or ``cursor``, live and test never mixed, the budget block."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import Generation
from orchestrator.ids import new_id

TODAY = datetime.now(UTC).date()
RANGE = {"start_date": str(TODAY - timedelta(days=1)), "end_date": str(TODAY + timedelta(days=1))}
STATUSES = ("succeeded", "failed", "canceled", "queued", "running")


def _row(project: str, key_id: str, livemode: bool, spec: dict[str, Any]) -> Generation:
    now = datetime.now(UTC)
    return Generation(
        id=new_id("gen"),
        project=project,
        api_key_id=key_id,
        subject=key_id,
        livemode=livemode,
        status=spec["status"],
        prompt="p",
        model=spec["model"],
        size="1024x1024",
        quality="standard",
        n=spec["n"],
        meta={"team": spec["team"]} if spec["team"] else {},
        provider=spec["provider"],
        attempts=1,
        progress=0.0,
        cost_micros=spec["cost"],
        currency="USD",
        price_version="t",
        created_at=now,
        processing_time=1.0,
        deadline_at=now + timedelta(hours=1),
        # A running row far from expiry, so lease recovery leaves it alone.
        lease_owner="elsewhere" if spec["status"] == "running" else None,
        lease_expires_at=now + timedelta(hours=1) if spec["status"] == "running" else None,
        # A cached or deduplicated job: $0 itself, saving what its source cost.
        cached_from="gen_source" if spec.get("cached") else None,
        saved_micros=spec.get("saved") if spec.get("cached") else None,
    )


async def _add(services: Any, rows: list[Generation]) -> None:
    async def add(session: AsyncSession) -> None:
        session.add_all(rows)

    await services.db.transaction(add)


ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(STATUSES),
            "model": st.sampled_from(["dall-e-3", "flux-dev"]),
            "provider": st.sampled_from([None, "openai", "fal"]),
            "team": st.sampled_from([None, "a", "b"]),
            "n": st.integers(1, 4),
            "cost": st.one_of(st.none(), st.integers(0, 200_000)),
            "key": st.integers(0, 1),
            "live": st.booleans(),
            "cached": st.booleans(),
            "saved": st.integers(0, 200_000),
        }
    ),
    max_size=25,
)


async def _history(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/v1/generations", params=params)).json()
        seen += page["data"]
        if not page["has_more"]:
            return seen
        cursor = page["next_cursor"]


@pytest.mark.timeout(300)
async def test_usage_totals_equal_history_for_every_status_and_group(start_server) -> None:
    # No workers: queued rows must stay queued while both views are read.
    server = await start_server(run_workers=False)
    services = server.app.state.services
    made = [
        await services.keys.create(project="default", name=f"k{i}", mode="test", scopes=["read"])
        for i in (0, 1)
    ]
    live = await services.keys.create(project="default", name="live", mode="live", scopes=["read"])
    key_ids = [m.record.id for m in made]
    loop = asyncio.get_running_loop()

    async def check(rows: list[dict[str, Any]]) -> None:
        async def replace(session: AsyncSession) -> None:
            await session.execute(delete(Generation))
            for spec in rows:
                livemode = spec["live"]
                key_id = live.record.id if livemode else key_ids[spec["key"]]
                session.add(_row("default", key_id, livemode, spec))

        await services.db.transaction(replace)
        async with server.client(str(made[0].secret)) as api:
            history = await _history(api)
            usage: dict[str, Any] = {}
            for dim in ("model", "key", "provider", "metadata.team", "cache"):
                response = await api.get("/api/v1/usage", params=RANGE | {"group_by": dim})
                assert response.status_code == 200, response.text
                usage[dim] = response.json()
        test_rows = [r for r in rows if not r["live"]]
        assert len(history) == len(test_rows)
        totals = usage["model"]
        statuses = Counter(g["status"] for g in history)
        assert totals["total_generations"] == len(history)
        assert totals["succeeded_generations"] == statuses["succeeded"]
        assert totals["failed_generations"] == statuses["failed"]
        assert totals["canceled_generations"] == statuses["canceled"]
        assert totals["active_generations"] == statuses["queued"] + statuses["running"]
        ok = [r for r in test_rows if r["status"] == "succeeded"]
        assert totals["total_images"] == sum(r["n"] for r in ok)
        assert round(totals["total_cost"] * 1_000_000) == sum(r["cost"] or 0 for r in ok)
        assert totals["unpriced_generations"] == sum(1 for r in ok if r["cost"] is None)
        cached = [g for g in history if g["status"] == "succeeded" and g["cached"]]
        assert totals["cached_generations"] == len(cached)
        saved = sum(r["saved"] for r in ok if r["cached"])
        assert round(totals["cache_savings"] * 1_000_000) == saved
        assert Counter(bool(g["cached_from"]) for g in history) == Counter(r["cached"] for r in test_rows)
        for r in test_rows:
            r["cache"] = "cached" if r["cached"] else "uncached"
        for dim, field in (
            ("model", "model"),
            ("provider", "provider"),
            ("metadata.team", "team"),
            ("cache", "cache"),
        ):
            groups = usage[dim]["groups"]
            for status in ("succeeded", "failed", "canceled"):
                assert sum(g[status] for g in groups) == statuses[status], (dim, status)
            assert sum(g["cached"] for g in groups) == len(cached), dim
            expected = Counter(r[field] or "(none)" for r in test_rows)
            assert {g["key"]: g["generations"] for g in groups} == dict(expected), dim
            assert (
                sum(g["cost"] for g in groups) == totals["total_cost"]
                or abs(sum(g["cost"] for g in groups) - totals["total_cost"]) < 1e-6
            )
        names = {g["key"]: g["name"] for g in usage["key"]["groups"]}
        assert set(names) <= set(key_ids) and all(names[k] == f"k{key_ids.index(k)}" for k in names)
        assert sum(g["generations"] for g in usage["key"]["groups"]) == len(history)

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rows=ROWS)
    def run(rows: list[dict[str, Any]]) -> None:
        asyncio.run_coroutine_threadsafe(check(rows), loop).result(timeout=60)

    async with asyncio.timeout(300):
        await asyncio.to_thread(run)


async def test_bad_group_by_lists_the_allowed_values(api: httpx.AsyncClient) -> None:
    async with asyncio.timeout(30):
        response = await api.get("/api/v1/usage", params=RANGE | {"group_by": "colour"})
    error = response.json()["error"]
    assert response.status_code == 422 and error["param"] == "group_by"
    for allowed in ("`model`", "`day`", "`key`", "`provider`", "`metadata.<name>`"):
        assert allowed in error["message"]
    assert "^(" not in error["message"]  # not the regular expression


async def test_bad_cursor_is_a_422_naming_cursor(api: httpx.AsyncClient) -> None:
    async with asyncio.timeout(30):
        garbage = await api.get("/api/v1/generations", params={"cursor": "garbage"})
        other = await api.get("/api/v1/generations", params={"cursor": "key_01JD0000000000000000000000"})
    for response in (garbage, other):
        assert response.status_code == 422 and response.json()["error"]["param"] == "cursor"


async def test_failed_jobs_count_in_total_generations(server, api: httpx.AsyncClient) -> None:
    async with asyncio.timeout(60):
        ok = await api.post("/api/v1/generate", json={"prompt": "a quiet harbour", "model": "dall-e-3"})
        assert ok.status_code == 200
        spec = {"status": "failed", "model": "dall-e-3", "n": 1, "team": None, "provider": None, "cost": None}
        await _add(server.app.state.services, [_row("default", "k", False, spec)])
        history = (await api.get("/api/v1/generations")).json()["data"]
        usage = (await api.get("/api/v1/usage", params=RANGE)).json()
    assert len(history) == 2 and usage["total_generations"] == 2
    assert usage["succeeded_generations"] == 1 and usage["failed_generations"] == 1


async def test_live_key_average_time_ignores_test_renders(server) -> None:
    services = server.app.state.services
    live = await services.keys.create(project="default", name="live", mode="live", scopes=["read"])
    test = await services.keys.create(project="default", name="test", mode="test", scopes=["read"])
    spec = {"status": "succeeded", "model": "dall-e-3", "n": 1, "team": None, "provider": "openai", "cost": 1}
    await _add(services, [_row("default", test.record.id, False, spec) for _ in range(3)])
    async with asyncio.timeout(30):
        async with server.client(str(live.secret)) as api:
            live_view = (await api.get("/api/v1/models/dall-e-3")).json()
        async with server.client(str(test.secret)) as api:
            test_view = (await api.get("/api/v1/models/dall-e-3")).json()
    assert live_view["average_time"] is None  # 0 live runs: nothing to average
    assert test_view["average_time"] == 1.0


async def test_budget_block_shows_spent_reserved_and_remaining(server) -> None:
    services = server.app.state.services
    key = await services.keys.create(
        project="default", name="capped", mode="test", scopes=["read"], monthly_budget=Decimal("1.00")
    )
    rows = [("succeeded", 300_000), ("running", 200_000), ("failed", None), ("canceled", 500_000)]
    specs = [
        {"status": status, "model": "dall-e-3", "n": 1, "team": None, "provider": None, "cost": cost}
        for status, cost in rows
    ]
    await _add(services, [_row("default", key.record.id, False, spec) for spec in specs])
    async with asyncio.timeout(30), server.client(str(key.secret)) as api:
        usage = (await api.get("/api/v1/usage")).json()
    [budget] = usage["budget"]
    assert budget["scope"] == "key" and budget["key_id"] == key.record.id
    assert (budget["monthly_budget"], budget["spent"], budget["reserved"], budget["remaining"]) == (
        1.0,
        0.3,
        0.2,
        0.5,
    )
    assert budget["period_start"] == str(date.today().replace(day=1)) or budget["period_start"].endswith(
        "-01"
    )
