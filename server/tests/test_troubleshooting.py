"""docs/troubleshooting.md stays true: every entry's error is triggered here the way a newcomer
meets it, and the message the server or the CLI prints must match the one the doc shows.

In the doc each entry is a ``## `` heading followed by a ``text`` block holding the message;
``<placeholders>`` stand for the parts that vary (a path, a key prefix, a number).
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import cli_env

pytestmark = pytest.mark.asgi  # the app served in process: the messages come from the app, not HTTP

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "troubleshooting.md"


def entries() -> dict[str, str]:
    """Heading -> the message shown under it."""
    text = GUIDE.read_text(encoding="utf-8")
    found = re.findall(r"^## (.+?)\n.*?^```text\n(.+?)\n```", text, re.S | re.M)
    return {title.strip(): message.strip() for title, message in found}


def pattern(message: str) -> re.Pattern[str]:
    """The doc's message as a pattern: literal text, each ``<placeholder>`` any text."""
    parts = re.split(r"<[a-z][a-z0-9 _-]*>", message)
    return re.compile(".+?".join(re.escape(part) for part in parts), re.S)


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if not line.startswith("database: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def error_message(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["message"])


Trigger = Callable[[Any, Path, str], Awaitable[str]]


async def no_database(start_server: Any, tmp_path: Path, database_url: str) -> str:
    env = cli_env(tmp_path / "data", database_url)
    del env["ORCHESTRATOR_DATABASE_URL"]  # the data dir chooses, as in the README
    env["ORCHESTRATOR_DATA_DIR"] = str(tmp_path / "dta")  # a typo
    message = cli(["keys", "list"], env)
    assert not (tmp_path / "dta").exists()
    return message


async def key_from_another_database(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    other = cli_env(tmp_path / "elsewhere", f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "orchestrator.cli", "keys", "create", "--name", "me", "--json"],
        env=other,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = re.search(r'"key": "([^"]+)"', done.stdout)
    assert key is not None
    async with server.client(key.group(1)) as api:
        return error_message(await api.get("/api/v1/models"), 401)


async def missing_scope(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    async with server.client(await server.create_key(scopes=("generate", "read"))) as api:
        return error_message(await api.get("/api/v1/keys"), 403)


async def over_budget(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    key = await server.create_key(monthly_budget=Decimal("0.01"))
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "p", "model": "dall-e-3"})
        return error_message(response, 402)


async def rate_limited(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    async with server.client(await server.create_key(rate_limit_per_minute=1)) as api:
        assert (await api.get("/api/v1/models")).status_code == 200
        return error_message(await api.get("/api/v1/models"), 429)


async def port_in_use(start_server: Any, tmp_path: Path, database_url: str) -> str:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        return cli(["serve", "--port", str(port)], cli_env(tmp_path / "data", database_url))


async def provider_credentials_missing(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    async with server.client(await server.create_key(mode="live")) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "p", "model": "dall-e-3"})
        return error_message(response, 503)


async def webhook_target_refused(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    async with server.client(await server.create_key()) as api:
        response = await api.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9000/hooks"})
        assert response.status_code in (400, 422), response.text
        return str(response.json()["error"]["message"])


async def metrics_closed(start_server: Any, tmp_path: Path, database_url: str) -> str:
    server = await start_server()
    async with server.client() as anonymous:
        return error_message(await anonymous.get("/metrics"), 401)


async def bad_setting(start_server: Any, tmp_path: Path, database_url: str) -> str:
    env = cli_env(tmp_path / "data", database_url, ORCHESTRATOR_PORT="80OO")
    return cli(["serve"], env)


# Heading in the doc -> how a newcomer triggers it.
TRIGGERS: dict[str, Trigger] = {
    "The CLI says there is no database": no_database,
    "401: a key the server does not know": key_from_another_database,
    "403: the key lacks a scope": missing_scope,
    "402: over the key's monthly budget": over_budget,
    "429: rate limit exceeded": rate_limited,
    "`serve`: the port is already in use": port_in_use,
    "503: a live key, and no provider credentials": provider_credentials_missing,
    "Webhook URL refused": webhook_target_refused,
    "401 from `/metrics`": metrics_closed,
    "A bad setting": bad_setting,
}


def test_the_guide_has_ten_entries_and_each_is_reproduced_here() -> None:
    assert list(entries()) == list(TRIGGERS)


@pytest.mark.parametrize("title", list(TRIGGERS))
async def test_the_error_a_newcomer_meets_reads_as_the_guide_says(
    title: str, start_server: Any, tmp_path: Path, database_url: str
) -> None:
    message = await TRIGGERS[title](start_server, tmp_path, database_url)
    shown = entries()[title]
    assert pattern(shown).fullmatch(message), f"the guide shows\n  {shown}\nthe error is\n  {message}"
