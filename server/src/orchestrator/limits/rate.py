"""Per-key request rate limiting with GCRA (the generic cell rate algorithm).

GCRA keeps one timestamp per key (the "theoretical arrival time") instead of a token count, allows
a burst of up to ``limit`` requests, then spaces requests evenly. :class:`InProcessRateLimiter` is
the embedded default; ``limits/redis_rate.py`` stores the same timestamp in Redis, with the same
arithmetic in one Lua script, so every process of a deployment shares one budget per key.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from orchestrator.errors import RateLimited


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    """Seconds until the bucket is full again."""
    retry_after: float
    """Seconds until one more request would be allowed (0 when allowed)."""

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_after)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimiter(Protocol):
    """Counts one request of ``subject`` against ``per_minute`` and says whether it may proceed."""

    async def check(self, subject: str, per_minute: int) -> RateDecision: ...

    def degraded(self) -> str | None:
        """Why limits are weaker than configured right now (shown by ``/readyz``), or None."""
        ...

    async def aclose(self) -> None: ...


async def admit(limiter: RateLimiter, subject: str, per_minute: int, refusal: str) -> RateDecision:
    """Count one request of ``subject`` against ``per_minute``; over it, 429 with the rate limit
    headers, saying ``refusal`` (its ``{per_minute}`` and ``{retry_after}`` filled in)."""
    decision = await limiter.check(subject, per_minute)
    if not decision.allowed:
        retry_after = decision.headers()["Retry-After"]
        raise RateLimited(
            refusal.format(per_minute=per_minute, retry_after=retry_after), headers=decision.headers()
        )
    return decision


class InProcessRateLimiter:
    """GCRA in this process's memory: exact for one process, the fallback for many."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000, share: int = 1
    ) -> None:
        self._share = max(1, share)
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys

    def hit(self, subject: str, per_minute: int) -> RateDecision:
        now = self._clock()
        interval = 60.0 / per_minute
        burst = per_minute * interval  # tolerance: the whole minute's allowance at once
        tat = max(self._tat.get(subject, now), now)
        new_tat = tat + interval
        allow_at = new_tat - burst
        # Compare with a tolerance: (now + interval) - burst can land a rounding error above now,
        # which would refuse the first request of a fresh bucket.
        if allow_at - now > 1e-6:
            return RateDecision(False, per_minute, 0, tat - now, allow_at - now)
        if len(self._tat) >= self._max_keys:
            self._evict(now)
        self._tat[subject] = new_tat
        remaining = int((burst - (new_tat - now)) / interval + 1e-9)
        return RateDecision(True, per_minute, max(0, remaining), new_tat - now, 0.0)

    async def check(self, subject: str, per_minute: int) -> RateDecision:
        if self._share == 1:
            return self.hit(subject, per_minute)
        # N processes, no Redis: each admits 1/N, so together they never exceed the limit.
        decision = self.hit(subject, max(1, per_minute // self._share))
        return RateDecision(
            decision.allowed, per_minute, decision.remaining, decision.reset_after, decision.retry_after
        )

    def degraded(self) -> str | None:
        if self._share > 1:
            return (
                f"no Redis with {self._share} processes: rate limits are per process, at "
                f"1/{self._share} of each limit"
            )
        return None

    async def aclose(self) -> None:
        return None

    def _evict(self, now: float) -> None:
        # Keys whose bucket has refilled carry no state worth keeping.
        for subject in [s for s, tat in self._tat.items() if tat <= now]:
            del self._tat[subject]
