"""scripts/with_test_services.py: the running services when they answer, throwaway ones when not,
and a loud failure under CI instead of a stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "with_test_services.py"
PROBE = (
    "import asyncio, os, asyncpg, redis\n"
    "pg = os.environ['ORCHESTRATOR_TEST_PG_URL'].replace('+asyncpg', '')\n"
    "async def main():\n"
    "    conn = await asyncpg.connect(pg)\n"
    "    print('pg', await conn.fetchval('select 41 + 1'))\n"
    "    await conn.close()\n"
    "asyncio.run(main())\n"
    "print('redis', redis.Redis.from_url(os.environ['ORCHESTRATOR_TEST_REDIS_URL']).ping())\n"
)


def run(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--postgres", "--redis", "--", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def closed_ports_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["ORCHESTRATOR_TEST_PG_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres"
    env["ORCHESTRATOR_TEST_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    return {**env, **extra}


@pytest.mark.timeout(240)  # may start a throwaway PostgreSQL and Redis (its own limit is 180 s)
def test_throwaway_services_start_when_nothing_answers_and_are_removed() -> None:
    env = closed_ports_env()
    done = run(env, sys.executable, "-c", PROBE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["pg 42", "redis True"]
    assert "PostgreSQL: throwaway" in done.stderr and "Redis: throwaway" in done.stderr
    folders = [line.rsplit("(in ", 1)[1].rstrip(")") for line in done.stderr.splitlines() if "(in " in line]
    assert len(folders) == 2 and not any(Path(f).exists() for f in folders)


def test_under_ci_a_missing_service_fails_loudly() -> None:
    done = run(closed_ports_env(CI="true"), sys.executable, "-c", "print('ran')")
    assert done.returncode != 0 and "ran" not in done.stdout
    assert "CI must provide it" in done.stderr


def test_the_exit_status_of_the_command_is_kept() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, "-c", "raise SystemExit(7)"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 7
