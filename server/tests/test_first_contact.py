"""What a new user meets first: revocation across processes, offline /docs, usage defaults."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket


async def test_revocation_reaches_another_instance_within_two_seconds(start_server) -> None:
    # Two app instances on one database, as two server processes would be.
    first = await start_server()
    second = await start_server()
    key = await first.create_key()
    async with first.client(key) as one, second.client(key) as two:
        assert (await two.get("/api/v1/models")).status_code == 200  # cached in the second one
        key_id = (await one.get("/api/v1/keys")).json()["data"][0]["id"]
        assert (await one.delete(f"/api/v1/keys/{key_id}")).status_code == 200
        revoked_at = time.monotonic()
        assert (await one.get("/api/v1/models")).status_code == 401  # at once where it was revoked
        while (status := (await two.get("/api/v1/models")).status_code) == 200:
            assert time.monotonic() - revoked_at < 2.0, "the revoked key still works after 2 s"
        assert status == 401


async def test_a_burst_of_one_key_costs_one_lookup(server) -> None:
    key = await server.create_key()
    service = server.app.state.services.keys
    lookups = 0
    real_fetch = service._fetch

    async def counting_fetch(key_hash: str):
        nonlocal lookups
        lookups += 1
        return await real_fetch(key_hash)

    service._fetch = counting_fetch
    async with server.client(key) as client:
        answers = await asyncio.gather(*(client.get("/api/v1/models") for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    assert lookups == 1


async def test_docs_pages_load_every_asset_from_the_app(server) -> None:
    async with server.client() as client:
        for page in ("/docs", "/redoc"):
            html = (await client.get(page)).text
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            assets += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)  # the spec Swagger UI loads
            assert assets, page
            for asset in assets:
                assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
                answer = await client.get(asset)
                assert answer.status_code == 200 and answer.content, (page, asset)
            assert "cdn." not in html and "fonts.googleapis" not in html


async def test_usage_without_dates_covers_the_current_month(api) -> None:
    made = await api.post("/api/v1/generate", json={"prompt": "this month", "model": "dall-e-2"})
    assert made.status_code == 200
    usage = (await api.get("/api/v1/usage")).json()
    today = datetime.now(UTC).date()
    assert usage["start_date"] == today.replace(day=1).isoformat()
    assert usage["end_date"] == today.isoformat()
    assert usage["total_generations"] == 1
    only_end = (await api.get("/api/v1/usage", params={"end_date": "2025-02-14"})).json()
    assert only_end["start_date"] == "2025-02-01" and only_end["total_generations"] == 0
