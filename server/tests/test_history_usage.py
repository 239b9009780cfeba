"""History filters and pagination; usage totals that equal the stored costs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from orchestrator.db.models import Generation

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

TODAY = date.today()
RANGE = {"start_date": str(TODAY - timedelta(days=1)), "end_date": str(TODAY + timedelta(days=1))}


async def _make(api: httpx.AsyncClient, **overrides) -> dict:
    body = {"prompt": "a quiet harbour", "model": "dall-e-3"} | overrides
    response = await api.post("/api/v1/generate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_cursor_pagination_walks_everything_once(api: httpx.AsyncClient) -> None:
    made = [(await _make(api, prompt=f"picture {i}"))["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/v1/generations", params=params)).json()
        seen += [g["id"] for g in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(made))  # newest first, no gaps, no repeats
    too_big = await api.get("/api/v1/generations", params={"limit": 101})
    assert too_big.status_code == 422 and too_big.json()["error"]["param"] == "limit"


async def test_history_filters(api: httpx.AsyncClient) -> None:
    a = await _make(api, prompt="Red bicycle in the rain", metadata={"campaign": "summer-2024", "brand": "x"})
    b = await _make(api, model="flux-schnell", prompt="blue car", metadata={"campaign": "winter"})
    c = await _make(api, model="flux-schnell", prompt="green bicycle", metadata={"campaign": "summer-2024"})

    async def ids(**params) -> list[str]:
        return [g["id"] for g in (await api.get("/api/v1/generations", params=params)).json()["data"]]

    assert await ids(model="flux-schnell") == [c["id"], b["id"]]
    assert await ids(**{"metadata.campaign": "summer-2024"}) == [c["id"], a["id"]]
    assert await ids(**{"metadata.campaign": "summer-2024", "model": "dall-e-3"}) == [a["id"]]
    assert await ids(q="BICYCLE") == [c["id"], a["id"]]
    assert await ids(q="100%") == []
    assert await ids(status="failed") == []
    assert set(await ids(status="succeeded")) == {a["id"], b["id"], c["id"]}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(since=future) == []
    assert len(await ids(until=future)) == 3


async def test_usage_totals_equal_stored_costs(server, api: httpx.AsyncClient) -> None:
    await _make(api, metadata={"campaign": "a"})  # 0.04
    await _make(api, quality="hd", size="1792x1024", metadata={"campaign": "b"})  # 0.12
    await _make(api, model="flux-dev", n=2, metadata={"campaign": "a"})  # 2 x 0.025
    usage = (await api.get("/api/v1/usage", params=RANGE | {"group_by": "metadata.campaign"})).json()
    assert usage["total_generations"] == 3 and usage["total_images"] == 4
    assert usage["total_cost"] == 0.21 and usage["currency"] == "USD" and usage["livemode"] is False
    by_model = {b["key"]: b for b in usage["by_model"]}
    assert by_model["dall-e-3"]["cost"] == 0.16 and by_model["flux-dev"]["images"] == 2
    assert [(d["key"], d["generations"]) for d in usage["by_day"]] == [(str(TODAY), 3)] or sum(
        d["generations"] for d in usage["by_day"]
    ) == 3  # a run across midnight UTC splits days
    groups = {g["key"]: g["cost"] for g in usage["groups"]}
    assert groups == {"a": 0.09, "b": 0.12}
    async with server.app.state.services.db.read() as session:
        stored = await session.scalar(
            select(func.sum(Generation.cost_micros)).where(Generation.status == "succeeded")
        )
    assert stored == 210_000  # micro-dollars: the API's total is exactly the stored sum


async def test_usage_validation(api: httpx.AsyncClient) -> None:
    backwards = await api.get("/api/v1/usage", params={"start_date": "2026-02-01", "end_date": "2026-01-01"})
    assert backwards.status_code == 422 and backwards.json()["error"]["param"] == "end_date"
    # Without end_date the range ends today (see test_first_contact for the defaults).
    start = (datetime.now(UTC).date() - timedelta(days=40)).isoformat()
    missing = await api.get("/api/v1/usage", params={"start_date": start})
    assert missing.status_code == 200 and missing.json()["start_date"] == start
    bad_group = await api.get("/api/v1/usage", params=RANGE | {"group_by": "colour"})
    assert bad_group.status_code == 422 and bad_group.json()["error"]["param"] == "group_by"


async def test_unknown_price_is_null_never_zero(start_server, tmp_path) -> None:
    from importlib import resources

    import yaml

    catalog = yaml.safe_load(resources.files("orchestrator.catalog").joinpath("models.yaml").read_text())
    catalog["models"]["dall-e-3"]["pricing"].pop("1792x1024")
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalog))
    server = await start_server(catalog_path=path)
    key = await server.create_key()
    async with server.client(key) as api:
        unpriced = await _make(api, size="1792x1024")
        priced = await _make(api)
        usage = (await api.get("/api/v1/usage", params=RANGE)).json()
    assert unpriced["cost"] is None and priced["cost"] == 0.04
    assert usage["unpriced_generations"] == 1 and usage["total_cost"] == 0.04
