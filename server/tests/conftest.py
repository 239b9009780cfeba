"""Server test fixtures: a real app on a real loopback port, on SQLite or PostgreSQL.

Set ``ORCHESTRATOR_TEST_DATABASE=postgresql`` to run the suite against the PostgreSQL at
``ORCHESTRATOR_TEST_PG_URL`` (default: the local server, user postgres). There is no silent skip:
if PostgreSQL was asked for and is not there, the session fails.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import re
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
from sqlalchemy.ext.asyncio import create_async_engine
from support import cli_env

from orchestrator.app import create_app
from orchestrator.auth import service as key_service
from orchestrator.db.migrate import upgrade_to_head
from orchestrator.logs import configure_logging, formatter
from orchestrator.settings import Settings

BACKEND = os.environ.get("ORCHESTRATOR_TEST_DATABASE", "sqlite")
# `make test` sets this to the running Redis or a throwaway one (scripts/with_test_services.py).
REDIS_URL = os.environ.get("ORCHESTRATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get(
    "ORCHESTRATOR_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TABLES = (
    "generation_sources",
    "images",
    "generations",
    "idempotency_keys",
    "api_keys",
    "webhook_deliveries",
    "webhook_endpoints",
    "board_items",
    "boards",
    "gallery_marks",
    "audit_events",
)
REDIS_URL = os.environ.get("ORCHESTRATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
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
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await upgrade_to_head(url)
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def database_url(pg_database: str | None, tmp_path: Path) -> AsyncIterator[str]:
    if pg_database is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'orchestrator.db'}"
        return
    engine = create_async_engine(pg_database)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    yield pg_database


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
            "auto_migrate": True,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@dataclass
class RunningServer:
    url: str
    settings: Settings
    app: Any

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
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


@pytest.fixture
async def start_server(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Awaitable[RunningServer]]]:
    """Start the app under uvicorn on a free loopback port, in this event loop."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> RunningServer:
        settings = make_settings(**overrides)
        app = create_app(settings)
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        return RunningServer(url=f"http://127.0.0.1:{port}", settings=settings, app=app)

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


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


@pytest.fixture
def serve_process(
    tmp_path: Path, database_url: str
) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], str]]]:
    """Run ``orchestrator serve`` as a real process (for crash and CLI tests)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        env = cli_env(tmp_path / "data", database_url, **extra)
        with open(tmp_path / f"serve-{port}.log", "wb") as log:  # read it when a test fails
            proc = subprocess.Popen(
                [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port), "--workers", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("server exited during start-up")
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
