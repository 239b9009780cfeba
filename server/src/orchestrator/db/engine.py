"""Engines and sessions.

SQLite allows one writer at a time, and a deferred transaction that reads before it writes can
fail at once with SQLITE_BUSY instead of waiting. So on SQLite, writes go through a single
connection that opens every transaction with ``BEGIN IMMEDIATE`` (writers queue in-process, and
across processes the busy timeout applies), owned by a dedicated writer thread; reads use a pool
of WAL readers. PostgreSQL uses one pooled engine for both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

T = TypeVar("T")


_BUSY_TIMEOUT_SECONDS = 10.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # No journal_mode here: ``ensure_wal`` set it once, and it persists in the file.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def ensure_wal(path: Path) -> None:
    """Put the SQLite file at ``path`` in WAL mode, once, before any pool opens it.

    Switching a file into WAL takes an exclusive lock. When several connections switch at once
    (the writer and the first readers of a new server), SQLite refuses all but one with
    "database is locked" at once, without waiting out the busy timeout, since waiting could
    deadlock. One connection, alone, switching first removes the race; the retry covers another
    process doing the same at the same moment.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
    delay = 0.01
    while True:
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS)
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"SQLite refused WAL mode for {path} (left in {mode!r} mode)")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        finally:
            connection.close()
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start.
    dbapi_connection.isolation_level = None


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


class DatabaseFileChanged(RuntimeError):
    """The SQLite file this process opened is gone or was replaced (readiness fails)."""


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, or ``None`` when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


_MAX_GROUP = 256


async def _new_queue() -> asyncio.Queue[Any]:
    return asyncio.Queue()


class _WriterThread:
    """A thread with its own event loop that owns SQLite's single write connection.

    Under load the main event loop has many ready tasks, and every await inside a transaction
    waits its turn among them while holding SQLite's only write lock. Running each write
    transaction on a loop that does nothing else keeps the lock held only for the work itself.

    Writes are group-committed: whatever is waiting when the writer is free (inserts, finishes,
    claims) runs in one transaction. If any of them raises, the group is rolled back and each
    runs again on its own, so one refusal never undoes another request's write.
    """

    def __init__(self, url: str, echo: bool) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sqlite-writer", daemon=True)
        self._thread.start()
        self.engine: AsyncEngine = self.call(self._create(url, echo))
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pending: asyncio.Queue[tuple[Any, concurrent.futures.Future[Any]]] = self.call(_new_queue())
        self._committer = asyncio.run_coroutine_threadsafe(self._group_commits(), self.loop)

    @staticmethod
    async def _create(url: str, echo: bool) -> AsyncEngine:
        # Every write transaction ends explicitly, so skip the rollback-on-return round trip.
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, pool_size=1, max_overflow=0, pool_reset_on_return=None
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_manual_transactions)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine

    def enqueue(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> concurrent.futures.Future[Any]:
        """Queue ``work`` for the next group commit (thread-safe)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self._pending.put_nowait, (work, future))
        return future

    async def _group_commits(self) -> None:
        """Run every write that is waiting in one transaction: one BEGIN and COMMIT for all."""
        while True:
            group = [await self._pending.get()]
            while not self._pending.empty() and len(group) < _MAX_GROUP:
                group.append(self._pending.get_nowait())
            live = [(work, future) for work, future in group if future.set_running_or_notify_cancel()]
            if len(live) == 1 or not await self._run_group(live):
                # A single write, or a group in which one write failed: each in its own
                # transaction, so one failure (a budget refusal, say) never undoes the others.
                for work, future in live:
                    await self._run_one(work, future)

    async def _run_group(self, group: list[tuple[Any, concurrent.futures.Future[Any]]]) -> bool:
        results: list[Any] = []
        try:
            async with self.sessions() as session, session.begin():
                for work, _ in group:
                    results.append(await work(session))
        except Exception:
            return False
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
        return True

    async def _run_one(self, work: Any, future: concurrent.futures.Future[Any]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                result = await work(session)
        except BaseException as exc:  # handed to the caller, whatever it is
            future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise  # the writer itself is closing: swallowing this would leave it pending
        else:
            future.set_result(result)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the writer loop from a thread that has no running loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def submit(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def close(self) -> None:
        self._committer.cancel()
        await self.submit(_settle_other_tasks())
        await self.submit(self.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join)
        self.loop.close()


async def _settle_other_tasks() -> None:
    """Let transactions whose callers were canceled finish rolling back on this loop: a driver
    call still in flight when the loop closes would answer into a closed loop."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=5.0)


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled PostgreSQL connection idle this long is pinged when checked out (see below)."""


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, which with asyncpg is three round
    trips (BEGIN, an empty query, ROLLBACK) and a server transaction before each of ours. A
    connection handed back a moment ago is alive; one idle for seconds may not be (the server
    restarted, a proxy dropped it): that one is pinged, and replaced when the ping fails
    (``DisconnectionError`` makes the pool discard it and connect afresh). A connection that dies
    while in use fails its statement and invalidates the pool, as with ``pool_pre_ping``.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("pooled connection failed its ping") from exc


class Database:
    """Owns the engines; runs write transactions and hands out read sessions."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._writer: _WriterThread | None = None
        self._sqlite_file = _sqlite_file(url) if self.is_sqlite else None
        if self._sqlite_file is not None:
            ensure_wal(self._sqlite_file)
        if self.is_sqlite:
            self._writer = _WriterThread(url, echo)
            self.read_engine = create_async_engine(
                url, echo=echo, hide_parameters=True, pool_size=8, max_overflow=8
            )
            event.listen(self.read_engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.read_engine.sync_engine, "connect", _sqlite_manual_transactions)
            event.listen(self.read_engine.sync_engine, "begin", _begin_deferred)
            self._write_sessions = self._writer.sessions
        else:
            self.read_engine = create_async_engine(
                url,
                echo=echo,
                hide_parameters=True,  # bound values hold secrets (webhook signing secrets, …)
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"server_settings": {"timezone": "UTC"}},
            )
            _ping_when_idle(self.read_engine)
            self._write_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._sqlite_identity = _identity(self._sqlite_file) if self._sqlite_file else None

    async def transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction: committed if it returns, rolled back if it raises.

        ``work`` may run on another thread's event loop (SQLite): it must only use the session,
        not touch objects bound to the caller's loop (events, queues, tasks).
        """

        async def run() -> T:
            async with self._write_sessions() as session, session.begin():
                return await work(session)

        if self._writer is not None:
            return cast(T, await asyncio.wrap_future(self._writer.enqueue(work)))
        return await run()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only."""
        async with self._read_sessions() as session:
            yield session

    async def ping(self) -> None:
        """Raise unless the database answers and, on SQLite, is still the file we opened.

        Open connections keep working on a deleted or replaced SQLite file, so a query alone
        would report ready while every write goes to a file nobody will ever open again.
        """
        if self._sqlite_file is not None:
            current = _identity(self._sqlite_file)
            if current is None:
                raise DatabaseFileChanged("the SQLite database file is missing")
            if self._sqlite_identity is None:
                self._sqlite_identity = current
            elif current != self._sqlite_identity:
                raise DatabaseFileChanged("the SQLite database file was replaced")
        async with self.read_engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.read_engine.dispose()
        if self._writer is not None:
            await self._writer.close()
