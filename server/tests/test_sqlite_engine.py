"""SQLite start-up: the file is switched to WAL once, alone, before any pool opens it.

Switching a file into WAL needs an exclusive lock, and SQLite refuses concurrent switchers at
once ("database is locked") instead of waiting out the busy timeout. A server opens its writer and
several readers together, so a file still in rollback mode at that moment failed start-up under
load. These tests use files in rollback mode, as a fresh migration or an older release leaves them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from conftest import BACKEND
from sqlalchemy import text

from orchestrator.db.engine import Database, ensure_wal

pytestmark = [
    pytest.mark.asgi,
    pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's journal modes only"),
]


def _rollback_mode_file(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
    connection.close()
    return path


def _journal_mode(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        connection.close()


def test_ensure_wal_switches_a_rollback_mode_file(tmp_path: Path) -> None:
    path = _rollback_mode_file(tmp_path / "a.db")
    assert _journal_mode(path) == "delete"
    ensure_wal(path)
    assert _journal_mode(path) == "wal"
    ensure_wal(path)  # a file already in WAL is left as it is
    assert _journal_mode(path) == "wal"


def test_ensure_wal_waits_for_a_lock_another_connection_holds(tmp_path: Path) -> None:
    path = _rollback_mode_file(tmp_path / "b.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    released = []

    def release() -> None:
        holder.execute("COMMIT")
        released.append(True)

    loop = asyncio.new_event_loop()
    try:
        # Released from another thread shortly after ensure_wal starts waiting on the lock.
        loop.call_later(0.2, release)
        waiter = loop.run_in_executor(None, ensure_wal, path)
        loop.run_until_complete(asyncio.wait_for(waiter, timeout=15))
    finally:
        loop.close()
        holder.close()
    assert released and _journal_mode(path) == "wal"


async def test_a_database_opened_on_a_rollback_mode_file_serves_concurrent_work(tmp_path: Path) -> None:
    path = _rollback_mode_file(tmp_path / "c.db")
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        assert _journal_mode(path) == "wal"

        async def read() -> int:
            async with db.read() as session:
                return int((await session.execute(text("SELECT count(*) FROM t"))).scalar_one())

        async def write(n: int) -> None:
            async def insert(session):  # type: ignore[no-untyped-def]
                await session.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": n})

            await db.transaction(insert)

        # The writer and a full pool of readers open their connections at the same moment.
        await asyncio.gather(*(read() for _ in range(16)), *(write(n) for n in range(8)))
        assert await read() == 8
    finally:
        await db.dispose()
