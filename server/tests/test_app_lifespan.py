"""The app starts its long-lived parts in order and closes every one, whatever fails."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.app import _start_components


class Part:
    def __init__(self, name: str, calls: list[str], *, fail_start: bool = False) -> None:
        self.name, self.calls, self.fail_start = name, calls, fail_start

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.calls.append(f"start {self.name}")

    async def aclose(self) -> None:
        self.calls.append(f"close {self.name}")

    async def stop(self) -> None:
        self.calls.append(f"close {self.name}")

    async def dispose(self) -> None:
        self.calls.append(f"close {self.name}")

    async def flush_last_used(self) -> None:
        self.calls.append(f"close {self.name}")


def _services(calls: list[str], *, failing: str | None = None) -> Any:
    def part(name: str) -> Part:
        return Part(name, calls, fail_start=name == failing)

    return SimpleNamespace(
        db=part("db"),
        redis=part("redis"),
        storage=part("storage"),
        thumbnails=part("thumbnails"),
        rate_limiter=part("limiter"),
        http=part("http"),
        router=SimpleNamespace(providers={"openai": part("openai")}),
        keys=part("keys"),
        bus=part("bus"),
        webhook_dispatcher=part("dispatcher"),
        pool=part("pool"),
        settings=SimpleNamespace(idempotency_ttl_seconds=60),
    )


async def test_parts_close_in_reverse_order_of_start() -> None:
    calls: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        await _start_components(stack, _services(calls))
        assert calls == ["start storage", "start bus", "start dispatcher", "start pool"]
    closed = [c for c in calls if c.startswith("close")]
    assert closed == [
        "close pool",
        "close dispatcher",
        "close bus",
        "close keys",
        "close openai",
        "close http",
        "close limiter",
        "close thumbnails",
        "close storage",
        "close redis",
        "close db",
    ]


async def test_a_part_that_fails_to_start_still_closes_those_started_before_it() -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError, match="dispatcher cannot start"):
        async with contextlib.AsyncExitStack() as stack:
            await _start_components(stack, _services(calls, failing="dispatcher"))
    assert "close bus" in calls and "close storage" in calls and "close db" in calls
    assert "start pool" not in calls and "close pool" not in calls
