"""Per-key concurrency: how many jobs of one key may run at once.

``acquire(subject, cap)`` takes one of ``cap`` slots or says no; ``release(subject)`` gives one
back. :class:`InProcessConcurrencyGate` counts in memory (one process); the Redis gate in
``limits/redis_concurrency.py`` holds the same count for all processes, with slots that expire if
their process dies.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol


class ConcurrencyGate(Protocol):
    async def acquire(self, subject: str, cap: int) -> bool:
        """Take a slot if fewer than ``cap`` are held for ``subject``."""
        ...

    async def release(self, subject: str) -> None:
        """Give back one slot taken by :meth:`acquire` in this process."""
        ...


class InProcessConcurrencyGate:
    def __init__(self) -> None:
        self._running: defaultdict[str, int] = defaultdict(int)

    async def acquire(self, subject: str, cap: int) -> bool:
        if self._running[subject] >= cap:
            return False
        self._running[subject] += 1
        return True

    async def release(self, subject: str) -> None:
        if self._running.get(subject, 0) <= 1:
            self._running.pop(subject, None)
        else:
            self._running[subject] -= 1

    def held(self, subject: str) -> int:
        return self._running.get(subject, 0)
