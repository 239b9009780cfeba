"""Start-up migration: a server started on an empty database brings it to the newest schema first.

Every other test starts on a database migrated once per session, so this is the test that the
app's own ``auto_migrate`` start-up path runs at all.
"""

from __future__ import annotations

import uuid

import pytest
from alembic.script import ScriptDirectory
from conftest import BACKEND, PG_ADMIN_URL, _pg_url
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.db.migrate import alembic_config

pytestmark = pytest.mark.asgi


@pytest.fixture
async def empty_database_url(tmp_path):
    """An empty database (no schema), dropped after the server that uses it has stopped."""
    if BACKEND != "postgresql":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty' / 'orchestrator.db'}"
        return
    name = f"orch_empty_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_start_up_migrates_an_empty_database_to_head(empty_database_url, start_server) -> None:
    server = await start_server(database_url=empty_database_url, auto_migrate=True)
    key = await server.create_key()
    async with server.client(key) as api:
        made = await api.post("/api/v1/generate", json={"prompt": "a first light", "model": "dall-e-2"})
        assert made.status_code == 200, made.text
        assert (await api.get("/api/v1/generations")).json()["data"][0]["id"] == made.json()["id"]
    engine = create_async_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    assert version == head
