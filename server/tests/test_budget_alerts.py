"""Budget alerts: `budget.threshold_crossed` at 50, 80 and 100 % of a monthly budget, once each,
delivered to a real receiver, never repeated after a restart on the same database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from conftest import AppLifespan, RunningServer
from standardwebhooks.webhooks import Webhook
from support import eventually
from webhook_receiver import Receiver, webhook_receiver

from orchestrator.app import create_app
from orchestrator.limits.budget_alerts import month_bounds
from orchestrator.settings import Settings

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

STANDARD = {"prompt": "a paper boat", "model": "dall-e-3"}  # $0.04
HD = {**STANDARD, "quality": "hd"}  # $0.08
SETTINGS = {"webhook_allow_private_targets": True, "webhook_retry_base_seconds": 0.2}
ALERTS = {"events": ["budget.threshold_crossed"]}


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[RunningServer]:
    """One life of the server: started, then shut down as a process is stopped."""
    app = create_app(settings)
    lifespan = AppLifespan(app)
    await lifespan.startup()
    try:
        yield RunningServer(url="http://testserver", settings=settings, app=app, in_process=True)
    finally:
        await lifespan.shutdown()


async def _generate(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/v1/generate", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] == "succeeded"
    return job


async def _delivered(api: Any, endpoint_id: str, count: int) -> list[dict[str, Any]]:
    """The endpoint's delivery log once it holds ``count`` deliveries, all delivered."""

    async def log() -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = (await api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")).json()[
            "data"
        ]
        return data

    return await eventually(
        log,
        lambda rows: len(rows) >= count and all(r["status"] == "delivered" for r in rows),
        what=f"{count} delivered deliveries",
    )


def _events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    wh = Webhook(secret)
    return [wh.verify(d.body, d.headers) for d in receiver.deliveries]


async def test_crossings_at_50_80_100_are_sent_once_each_and_never_again_after_restarts(
    make_settings: Callable[..., Settings], session_logs: Any
) -> None:
    settings = make_settings(**SETTINGS)
    with webhook_receiver() as receiver:
        async with running(settings) as server:
            new = await server.app.state.services.keys.create(
                project="default",
                name="budgeted",
                mode="test",
                scopes=["generate", "read", "admin"],
                monthly_budget=Decimal("0.20"),
            )
            async with server.client(new.secret) as api:
                created = await api.post("/api/v1/webhooks", json={"url": receiver.url, **ALERTS})
                assert created.status_code == 201, created.text
                endpoint = created.json()
                assert endpoint["events"] == ["budget.threshold_crossed"]
                await _generate(api, STANDARD)  # 20 %: nothing
                at_60 = await _generate(api, HD)  # 60 %: 50
                at_80 = await _generate(api, STANDARD)  # 80 %: 80 (reaching it is crossing it)
                await asyncio.to_thread(receiver.wait_for, 2)
                await _delivered(api, endpoint["id"], 2)
        # A new life on the same database: what was recorded is not sent again, and the next
        # settlement (which looks at every threshold reached) adds only the one it reaches.
        async with running(settings) as server, server.client(new.secret) as api:
            at_100 = await _generate(api, STANDARD)  # 100 %: 100
            await asyncio.to_thread(receiver.wait_for, 3)
            await _delivered(api, endpoint["id"], 3)
            refused = await api.post("/api/v1/generate", json=STANDARD)
            assert refused.status_code == 402  # the budget is spent: nothing more to settle
        async with running(settings) as server, server.client(new.secret) as api:
            # A third life: its dispatcher finds nothing owed, and the log still holds three.
            log = await _delivered(api, endpoint["id"], 3)
            usage = (await api.get("/api/v1/usage")).json()
        assert len(log) == 3 and len(receiver.deliveries) == 3
    assert usage["budget"][0]["spent"] == 0.2 and usage["budget"][0]["remaining"] == 0
    events = _events(receiver, endpoint["secret"])
    assert [e["type"] for e in events] == ["budget.threshold_crossed"] * 3
    data = [e["data"] for e in events]
    assert [d["threshold"] for d in data] == [50, 80, 100]
    assert [d["spent"] for d in data] == [0.12, 0.16, 0.2]
    assert [d["generation_id"] for d in data] == [at_60["id"], at_80["id"], at_100["id"]]
    period = month_bounds(datetime.now(UTC))[0].date().isoformat()
    for d in data:
        assert d["object"] == "budget_alert" and d["scope"] == "key"
        assert d["key_id"] == new.record.id and d["key_name"] == "budgeted"
        assert d["budget"] == 0.2 and d["currency"] == "USD" and d["livemode"] is False
        assert d["period_start"] == period
    lines = session_logs.records("orchestrator.limits.budget_alerts")
    mine = [line for line in lines if line.get("key_id") == new.record.id]
    assert [(line["threshold"], line["level"]) for line in mine] == [
        (50, "info"),
        (80, "info"),
        (100, "warning"),
    ]


async def test_one_charge_over_two_thresholds_sends_both(start_server) -> None:
    server = await start_server(**SETTINGS)
    key = await server.create_key(monthly_budget=Decimal("0.047"))
    with webhook_receiver() as receiver:
        async with server.client(key) as api:
            endpoint = (await api.post("/api/v1/webhooks", json={"url": receiver.url, **ALERTS})).json()
            job = await _generate(api, STANDARD)  # 0 → 85 %
            await asyncio.to_thread(receiver.wait_for, 2)
            await _delivered(api, endpoint["id"], 2)
    data = [e["data"] for e in _events(receiver, endpoint["secret"])]
    assert sorted(d["threshold"] for d in data) == [50, 80]
    assert all(d["generation_id"] == job["id"] and d["spent"] == 0.04 for d in data)


async def test_only_a_budgeted_key_s_charge_looks_for_crossings(start_server, monkeypatch) -> None:
    """The lookup is a query in the finish transaction: a key without a budget skips it."""
    from orchestrator.generation import lifecycle

    looked: list[str] = []
    real = lifecycle.record_budget_crossings

    async def counted(session: Any, job: Any, cost: int | None, now: datetime) -> Any:
        looked.append(job.id)
        return await real(session, job, cost, now)

    monkeypatch.setattr(lifecycle, "record_budget_crossings", counted)
    server = await start_server(**SETTINGS)
    free, budgeted = await server.create_key(), await server.create_key(monthly_budget=Decimal("1"))
    async with server.client(free) as api:
        await _generate(api, STANDARD)
    assert looked == []
    async with server.client(budgeted) as api:
        job = await _generate(api, STANDARD)
    assert looked == [job["id"]]


async def test_pool_and_key_budgets_alert_apart_and_only_subscribers_hear(start_server) -> None:
    server = await start_server(**SETTINGS)
    root = await server.app.state.services.keys.create(
        project="default",
        name="root",
        mode="test",
        scopes=["generate", "read", "admin"],
        monthly_budget=Decimal("0.20"),
    )
    root_id = root.record.id
    with webhook_receiver() as alerts, webhook_receiver() as jobs_only:
        async with server.client(root.secret) as api:
            endpoint = (await api.post("/api/v1/webhooks", json={"url": alerts.url, **ALERTS})).json()
            default = await api.post("/api/v1/webhooks", json={"url": jobs_only.url})
            assert "budget.threshold_crossed" not in default.json()["events"]  # opt-in
            made = await api.post("/api/v1/keys", json={"name": "child", "monthly_budget": 0.10})
            assert made.status_code == 201, made.text
            child = made.json()
            async with server.client(child["key"]) as child_api:
                await _generate(child_api, STANDARD)  # child 40 %, pool 20 %
                await _generate(api, HD)  # root's own charge: root 40 %, pool 60 % → pool 50
                await _generate(child_api, STANDARD)  # child 80 % → key 50, 80; pool 80 %
            await asyncio.to_thread(alerts.wait_for, 4)
            await _delivered(api, endpoint["id"], 4)
            await asyncio.to_thread(jobs_only.wait_for, 3)  # its three generation events
    crossed = {
        (d["scope"], d["key_id"], d["threshold"])
        for d in (e["data"] for e in _events(alerts, endpoint["secret"]))
    }
    assert crossed == {
        ("pool", root_id, 50),
        ("pool", root_id, 80),
        ("key", child["id"], 50),
        ("key", child["id"], 80),
    }
    assert len(alerts.deliveries) == 4
    assert all(json.loads(d.body)["type"].startswith("generation.") for d in jobs_only.deliveries)


def test_budget_months_are_utc_calendar_months() -> None:
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_bounds(december) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert month_bounds(datetime(2026, 2, 10, tzinfo=UTC))[1] == datetime(2026, 3, 1, tzinfo=UTC)
