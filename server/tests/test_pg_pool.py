"""PostgreSQL's connection pool: a pooled connection is pinged only after sitting idle, and one
that died while idle (server restart, dropped by a proxy) is replaced before it is used."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from conftest import BACKEND
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from orchestrator.db import engine as engine_module
from orchestrator.db.engine import Database

pytestmark = [
    pytest.mark.asgi,
    pytest.mark.skipif(BACKEND != "postgresql", reason="the PostgreSQL pool only"),
]


async def _backend_pid(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_busy_connection_is_reused_without_a_ping(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    original = AsyncAdapt_asyncpg_connection.ping
    monkeypatch.setattr(
        AsyncAdapt_asyncpg_connection, "ping", lambda self: (pings.append(self), original(self))[1]
    )
    db = Database(database_url)
    try:
        first = await _backend_pid(db)
        for _ in range(5):
            assert await _backend_pid(db) == first
        assert pings == []  # each checkout came right after a checkin: no round trips spent
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.05)
        await asyncio.sleep(0.1)
        assert await _backend_pid(db) == first
        assert len(pings) == 1  # idle past the threshold: pinged once, found alive, kept
    finally:
        await db.dispose()


async def test_a_connection_that_died_while_idle_is_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.05)
    db = Database(database_url)
    try:
        dead = await _backend_pid(db)
        admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", dead)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
        # The pooled connection to the terminated backend is idle past the threshold: pinged,
        # found dead, replaced; the caller never sees the failure.
        alive = await _backend_pid(db)
        assert alive != dead
    finally:
        await db.dispose()
