"""Helpers shared by the server tests: the `orchestrator` command, waiting for a state, metrics."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def cli_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env.update(
        {
            "ORCHESTRATOR_DATA_DIR": str(data_dir),
            "ORCHESTRATOR_DATABASE_URL": database_url,
            "ORCHESTRATOR_SECRET_KEY": "test-secret",
        },
        **extra,
    )
    return env


def run_cli(args: list[str], env: dict[str, str]) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout) if "--json" in args else out.stdout


def sample_value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The value of one sample of a parsed Prometheus exposition (0 when absent)."""
    family_name = name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    family = families.get(family_name) or families.get(name)
    if family is None:
        return 0.0
    for sample in family.samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    return 0.0


def wait_until(read: Callable[[], T], done: Callable[[T], bool], *, within: float = 30, what: str = "") -> T:
    """Read until ``done(value)``; fail with the last value once ``within`` seconds passed.

    For waiting on a state another process reaches (a job's status over HTTP, a server's health):
    the test waits exactly as long as the system needs, and a system that never gets there fails
    the test with what it saw instead of hanging it.
    """
    deadline = time.monotonic() + within
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {what or 'the condition'}: {value!r}")
        time.sleep(0.05)


async def eventually(
    read: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within: float = 30, what: str = ""
) -> T:
    """:func:`wait_until` for async reads (polled every 20 ms)."""
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {what or 'the condition'}: {value!r}")
        await asyncio.sleep(0.02)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, *, within: float = 60) -> None:
    """Wait until the server at ``url`` answers ``/healthz`` (failing at once if ``proc`` exits)."""

    def probe() -> int | None:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode} before it answered")
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code
        except httpx.TransportError:
            return None

    wait_until(probe, lambda status: status == 200, within=within, what=f"{url}/healthz")
