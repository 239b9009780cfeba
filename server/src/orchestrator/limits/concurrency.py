"""How many jobs each principal has queued or running: the count its concurrency cap applies to.

Counting the database on every submission cost a query per request; the count is kept here
instead, rebuilt from the database at start-up (and by the periodic lease recovery, which also
picks up jobs other processes finished) and corrected when a job of this process ends.

A principal is an API key or a bearer-token subject, always within its project: tokens have no
key row, so they are counted by (project, subject) and capped with the key defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class ConcurrencyGate(Protocol):
    """Active-job counts per principal slot (``core.slots.principal_slot``). An in-process and a
    shared (Redis) version exist."""

    async def admit(self, slot: str, cap: int) -> bool:
        """Count one more active job for ``slot``; True if it was under ``cap`` before (so the
        job may start at once), False if it must wait in the queue."""
        ...

    async def release(self, slot: str) -> None:
        """One active job of ``slot`` ended (or was never written)."""
        ...

    async def reset(self, counts: Mapping[str, int]) -> None:
        """Replace every count with ``counts`` (read from the database)."""
        ...

    def active(self, slot: str) -> int:
        """The current count (for health pages and tests)."""
        ...

    def degraded(self) -> str | None:
        """Why this count is not the deployment's (then every job goes through the database
        claim, which caps running jobs across processes), or None."""
        ...


class InProcessConcurrencyGate:
    """The gate for one process: a dict, no locks needed on one event loop.

    Exact for one process; with ``processes`` > 1 (several processes and no Redis) it sees only
    its own jobs, and says so through :meth:`degraded`."""

    def __init__(self, processes: int = 1) -> None:
        self._counts: dict[str, int] = {}
        self._processes = processes

    async def admit(self, slot: str, cap: int) -> bool:
        current = self._counts.get(slot, 0)
        self._counts[slot] = current + 1
        return current < cap

    async def release(self, slot: str) -> None:
        current = self._counts.get(slot, 0)
        if current <= 1:
            self._counts.pop(slot, None)
        else:
            self._counts[slot] = current - 1

    async def reset(self, counts: Mapping[str, int]) -> None:
        self._counts = {slot: n for slot, n in counts.items() if n > 0}

    def active(self, slot: str) -> int:
        return self._counts.get(slot, 0)

    def degraded(self) -> str | None:
        if self._processes > 1:
            return (
                f"no Redis with {self._processes} processes: concurrency caps are enforced by the "
                "database claim only (no job skips the queue)"
            )
        return None
