"""What a new user meets first: revocation across processes, offline /docs, usage defaults."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import httpx
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


async def test_an_unknown_key_gets_what_to_check_and_nothing_about_where_keys_exist(server) -> None:
    from orchestrator.auth.keys import generate_key, key_prefix

    revoked = await server.create_key(mode="live")
    services = server.app.state.services
    await services.keys.revoke((await services.keys.list(project="default"))[0].id, project=None)
    never_stored = generate_key("live")
    messages = []
    for key in (revoked, never_stored):
        async with server.client(key) as api:
            answer = await api.get("/api/v1/models")
        assert answer.status_code == 401
        message = answer.json()["error"]["message"]
        assert f"live-mode key {key_prefix(key)}…" in message and "GET /readyz" in message
        assert "ORCHESTRATOR_DATA_DIR" in message and key[len(key_prefix(key)) :] not in message
        messages.append(message.replace(key_prefix(key), "<prefix>"))
    # A revoked key and one that never existed here read the same: nothing tells them apart.
    assert messages[0] == messages[1]


def test_the_server_names_its_database_at_start_up_and_in_readyz(
    serve_process, tmp_path, database_url
) -> None:
    from orchestrator.settings import Settings

    proc, url = serve_process()
    settings = Settings(database_url=database_url)
    ready = httpx.get(url + "/readyz", timeout=10).json()
    # Anyone may read /readyz: the database's name and id, never a server path, host or user.
    assert ready["database"] == settings.database_public_label()
    assert ready["database"].endswith(f"(id {settings.database_id()})")
    assert str(tmp_path) not in ready["database"] and "127.0.0.1" not in ready["database"]
    assert "postgres@" not in ready["database"]
    banner = (tmp_path / f"serve-{url.rsplit(':', 1)[1]}.log").read_text()
    assert f"database: {settings.database_label()}, chosen by ORCHESTRATOR_DATABASE_URL" in banner
    # The CLI prints the same id, so the two can be compared at a glance.
    assert f"(id {settings.database_id()})" in banner.splitlines()[0]
    # The first key must land in this database: the hint repeats the setting that chose it.
    assert "ORCHESTRATOR_DATABASE_URL=<the server's> .venv/bin/orchestrator keys create" in banner
