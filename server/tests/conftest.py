"""Server test fixtures: a real app on SQLite or PostgreSQL, on a loopback port or in process.

Set ``ORCHESTRATOR_TEST_DATABASE=postgresql`` to run the suite against the PostgreSQL at
``ORCHESTRATOR_TEST_PG_URL`` (default: the local server, user postgres). There is no silent skip:
if PostgreSQL was asked for and is not there, the session fails.

Speed: the schema is migrated once per test session (per xdist worker), never per test: on SQLite
every test gets a copy of a migrated file, on PostgreSQL the session's database emptied.
``server``/``start_server`` serve the app under uvicorn on a real socket; a module or test marked
``@pytest.mark.asgi`` gets the same app served in process (httpx's ASGITransport, the lifespan run
as a server runs it): use that wherever a socket adds nothing, and reach the app only through
``server.client()`` there (``server.url`` is not a socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import provider_emulators as emulators
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from support import cli_env

from orchestrator.app import create_app
from orchestrator.auth import service as key_service
from orchestrator.db.migrate import upgrade_to_head
from orchestrator.db.models import Base
from orchestrator.logs import configure_logging, formatter
from orchestrator.settings import Settings

BACKEND = os.environ.get("ORCHESTRATOR_TEST_DATABASE", "sqlite")
# `make test` sets this to the running Redis or a throwaway one (scripts/with_test_services.py).
REDIS_URL = os.environ.get("ORCHESTRATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get(
    "ORCHESTRATOR_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
# Every run gets its own key namespace, so parallel test runs sharing one Redis never collide.
REDIS_RUN_PREFIX = f"orch-test-{uuid.uuid4().hex[:10]}:"
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# What must never reach a log line: issued API keys, provider credentials, image-URL signatures,
# webhook signing secrets.
_LEAK_PATTERNS = re.compile(r"sk-(?:test|live)-[A-Za-z0-9]{20,}|[?&]sig=|Bearer\s+\S{8,}|whsec_")


class LogCollector(logging.Handler):
    """Every log record of the session, rendered as the server renders it (JSON)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter("json"))
        self.lines: list[str] = []
        self.secrets: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def leaks(self) -> list[str]:
        return [
            line for line in self.lines if _LEAK_PATTERNS.search(line) or any(s in line for s in self.secrets)
        ]

    def records(self, logger: str) -> list[dict[str, Any]]:
        parsed = (json.loads(line) for line in self.lines if f'"logger": "{logger}"' in line)
        return [entry for entry in parsed if entry.get("logger") == logger]


def _provider_credentials() -> set[str]:
    found = set()
    for name in ("openai", "stability", "replicate", "fal", "freepik", "midjourney"):
        module = importlib.import_module(f"{emulators.__name__}.{name}")
        found.add(module.DEFAULT_API_KEY)
    return found


@pytest.fixture(scope="session", autouse=True)
def session_logs() -> Iterator[LogCollector]:
    """Logs configured as `orchestrator serve` configures them, and every line of the session
    collected; at the end, none may hold an issued key, a provider credential or a URL signature."""
    configure_logging("info", "json", capture_warnings=False)
    collector = LogCollector()
    collector.secrets |= _provider_credentials()
    real_generate_key = key_service.generate_key

    def recording_generate_key(mode: str) -> str:
        secret = real_generate_key(mode)
        collector.secrets.add(secret)
        return secret

    patch = pytest.MonkeyPatch()
    patch.setattr(key_service, "generate_key", recording_generate_key)
    logging.getLogger().addHandler(collector)
    try:
        yield collector
    finally:
        logging.getLogger().removeHandler(collector)
        patch.undo()
    leaks = collector.leaks()
    assert not leaks, f"{len(leaks)} log lines leak a secret, e.g. {leaks[0][:300]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path | None]:
    """A SQLite file migrated once for the session, copied for every test (None on PostgreSQL runs)."""
    if BACKEND == "postgresql":
        yield None
        return
    path = tmp_path_factory.mktemp("template") / "orchestrator.db"
    await upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    yield path


@pytest.fixture(scope="session")
async def pg_database() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database for the session, migrated to head (None on SQLite runs)."""
    if BACKEND != "postgresql":
        yield None
        return
    name = f"orch_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        await upgrade_to_head(_pg_url(name))
        yield _pg_url(name)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
async def _pg_cleaner(pg_database: str | None) -> AsyncIterator[AsyncEngine | None]:
    """One pooled connection to the session database, for emptying it between tests."""
    if pg_database is None:
        yield None
        return
    engine = create_async_engine(pg_database, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _empty_pg_database(engine: AsyncEngine) -> None:
    """Every table of the schema emptied, children first, and its id sequences restarted.

    Measured against ``CREATE DATABASE … TEMPLATE`` (plus ``DROP DATABASE``, which checkpoints) and
    ``TRUNCATE … RESTART IDENTITY CASCADE`` (new files for every table and index): on this busy
    machine 0.14 s against 1.1-1.7 s and 0.42 s a test. The tables come from the ORM metadata, so
    a new table is emptied too.
    """
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
        sequences = await conn.scalars(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        )
        for sequence in list(sequences):
            await conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


async def _fresh_database(
    sqlite_template: Path | None, pg_database: str | None, cleaner: AsyncEngine | None, folder: Path
) -> str:
    """An empty database at the newest schema: a copy of the migrated SQLite file in ``folder``,
    or the session's PostgreSQL database, emptied."""
    if sqlite_template is not None:
        path = folder / "orchestrator.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    assert pg_database is not None and cleaner is not None
    await _empty_pg_database(cleaner)
    return pg_database


@pytest.fixture
async def database_url(
    sqlite_template: Path | None, pg_database: str | None, _pg_cleaner: AsyncEngine | None, tmp_path: Path
) -> AsyncIterator[str]:
    """This test's database: at the newest schema and empty (no migration runs per test).

    SQLite: a copy of the session's migrated file. PostgreSQL: the session's database, emptied.
    """
    yield await _fresh_database(sqlite_template, pg_database, _pg_cleaner, tmp_path)


@pytest.fixture(scope="module")
async def module_database_url(
    sqlite_template: Path | None,
    pg_database: str | None,
    _pg_cleaner: AsyncEngine | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    """A database shared by the tests of one module (a server they share runs on it), fresh when
    the module starts. On PostgreSQL it is the session's database, so a module using it must not
    also use ``database_url`` (which empties that database before its test)."""
    yield await _fresh_database(
        sqlite_template, pg_database, _pg_cleaner, tmp_path_factory.mktemp("module-db")
    )


@pytest.fixture
def redis_prefix() -> str:
    """A Redis key prefix (and pub/sub channel namespace) of this test alone."""
    return f"{REDIS_RUN_PREFIX}{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on loopback: moto in server mode, one process for the session."""
    for name, value in AWS_TEST_ENV.items():
        os.environ.setdefault(name, value)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise RuntimeError("moto server exited during start-up") from None
                time.sleep(0.05)
        else:
            raise RuntimeError("moto server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import boto3

    name = f"orch-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, **_aws_kwargs()).create_bucket(Bucket=name)
    return name


def _aws_kwargs() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_TEST_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "secret_key": "test-secret",
            "job_poll_interval": 0.2,
            "auto_migrate": False,  # database_url is at the newest schema already
        }
        values.update(overrides)
        return Settings(**values)

    return make


@dataclass
class RunningServer:
    """A started app: ``url`` on a loopback socket, or ``http://testserver`` served in process."""

    url: str
    settings: Settings
    app: Any
    in_process: bool = False

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = ({"Authorization": f"Bearer {key}"} if key else {}) | kwargs.pop("headers", {})
        if self.in_process:
            # A 500 comes back as a response, as it would over a socket, not as a raised exception.
            kwargs.setdefault("transport", httpx.ASGITransport(app=self.app, raise_app_exceptions=False))
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **kwargs)

    async def create_key(
        self,
        *,
        mode: str = "test",
        project: str = "default",
        scopes: tuple[str, ...] = ("generate", "read", "admin"),
        **limits: Any,
    ) -> str:
        new = await self.app.state.services.keys.create(
            project=project, name="t", mode=mode, scopes=list(scopes), **limits
        )
        return str(new.secret)


class AppLifespan:
    """Runs an ASGI app's lifespan protocol as uvicorn does: start-up before the first request,
    shutdown at the end, a failed start-up raised."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup.complete")

    async def shutdown(self) -> None:
        assert self._task is not None
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._expect("lifespan.shutdown.complete")
        await self._task

    async def _expect(self, wanted: str) -> None:
        assert self._task is not None
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # the app's own exception, if it raised one
            raise RuntimeError(f"the app ended its lifespan before {wanted}")
        message = answer.result()
        if message["type"] != wanted:
            if self._task.done():
                self._task.result()
            raise RuntimeError(f"{message['type']}: {message.get('message', '')}")


@pytest.fixture
async def start_server(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Awaitable[RunningServer]]]:
    """Start the app in this event loop: under uvicorn on a loopback socket, or in process for
    tests marked ``asgi``."""
    in_process = request.node.get_closest_marker("asgi") is not None
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    lifespans: list[AppLifespan] = []

    async def start(**overrides: Any) -> RunningServer:
        settings = make_settings(**overrides)
        app = create_app(settings)
        if in_process:
            lifespan = AppLifespan(app)
            await lifespan.startup()
            lifespans.append(lifespan)
            return RunningServer(url="http://testserver", settings=settings, app=app, in_process=True)
        # Bound here, handed to uvicorn: no other process can take the port in between.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        servers.append((server, task))
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during start-up")
            await asyncio.sleep(0.01)
        return RunningServer(url=f"http://127.0.0.1:{port}", settings=settings, app=app)

    yield start
    for server, task in servers:
        server.should_exit = True
        await task
    for lifespan in lifespans:
        await lifespan.shutdown()


@pytest.fixture
async def server(start_server: Callable[..., Awaitable[RunningServer]]) -> RunningServer:
    return await start_server()


@pytest.fixture
async def test_key(server: RunningServer) -> str:
    return await server.create_key()


@pytest.fixture
async def api(server: RunningServer, test_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client(test_key) as client:
        yield client


class ServeProcess:
    """Starts ``orchestrator serve`` processes on one database, their data in ``data_dir``:
    ``start(**env)`` answers the process and its URL once it is healthy."""

    def __init__(self, start: Callable[..., tuple[subprocess.Popen[bytes], str]], data_dir: Path) -> None:
        self._start = start
        self.data_dir = data_dir

    def __call__(self, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
        return self._start(**extra)


@contextlib.contextmanager
def _serve_processes(tmp_path: Path, database_url: str) -> Iterator[ServeProcess]:
    """Starts ``orchestrator serve`` processes on ``database_url``; kills the ones left at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> tuple[subprocess.Popen[bytes], str]:
        for _ in range(3):  # another test process may take the free port first: pick another
            port = free_port()
            env = cli_env(tmp_path / "data", database_url, **extra)
            log_path = tmp_path / f"serve-{port}.log"  # read it when a test fails
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "orchestrator.cli",
                        "serve",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        return proc, url
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            if proc.poll() is None:
                raise RuntimeError(f"server did not answer within 60 s; see {log_path}")
            if b"address already in use" not in log_path.read_bytes():
                raise RuntimeError(f"server exited during start-up; see {log_path}")
        raise RuntimeError("no free port for the server")

    try:
        yield ServeProcess(start, tmp_path / "data")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def serve_process(tmp_path: Path, database_url: str) -> Iterator[ServeProcess]:
    """Run ``orchestrator serve`` as a real process (for crash and CLI tests)."""
    with _serve_processes(tmp_path, database_url) as start:
        yield start


@pytest.fixture(scope="module")
def module_serve_process(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[ServeProcess]:
    """``serve_process`` for a server the tests of one module share (on ``module_database_url``):
    one start-up instead of one a test, where the tests need the process but not a fresh one."""
    with _serve_processes(tmp_path_factory.mktemp("served"), module_database_url) as start:
        yield start
