"""Engines and sessions.

SQLite allows one writer at a time, and a deferred transaction that reads before it writes can
fail at once with SQLITE_BUSY instead of waiting. So on SQLite, writes go through a single
connection that opens every transaction with ``BEGIN IMMEDIATE`` (writers queue in-process, and
across processes the busy timeout applies), while reads use a pool of WAL readers. PostgreSQL uses
one pooled engine for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start.
    dbapi_connection.isolation_level = None


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


class Database:
    """Owns the engines; hands out sessions for reading and for writing."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0)
            self.read_engine = create_async_engine(url, echo=echo, pool_size=8, max_overflow=8)
            for engine, begin in ((self.write_engine, _begin_immediate), (self.read_engine, _begin_deferred)):
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
                event.listen(engine.sync_engine, "connect", _sqlite_manual_transactions)
                event.listen(engine.sync_engine, "begin", begin)
        else:
            self.write_engine = create_async_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction: committed on success, rolled back on error."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only."""
        async with self._read_sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        return (
            (self.write_engine,)
            if self.read_engine is self.write_engine
            else (self.write_engine, self.read_engine)
        )
