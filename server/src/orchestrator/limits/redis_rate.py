"""GCRA in Redis: one Lua script per request, so every process shares each key's budget.

The script reads Redis's own clock (``TIME``), so servers with skewed clocks still agree. When Redis
cannot be reached, requests are never refused for that reason: each process falls back to its own
in-process limiter at ``limit / fallback_processes`` (so N processes together stay near the limit),
logs the switch once, and reports it through :meth:`degraded` (shown by ``/readyz``). Redis is
retried after ``retry_after`` seconds, so a dead Redis costs one short timeout per interval, not one
per request.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.limits.rate import InProcessRateLimiter, RateDecision

logger = logging.getLogger(__name__)

# KEYS[1]: the subject's TAT key. ARGV: emission interval and burst tolerance, in microseconds.
# Returns {allowed, reset_after_us, retry_after_us}.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst
if allow_at > now then
  return {0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, new_tat - now, 0}
"""


class RedisRateLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        fallback_processes: int = 1,
        retry_after: float = 1.0,
        clock: Any = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(GCRA_SCRIPT)
        self._fallback = InProcessRateLimiter()
        self._fallback_processes = max(1, fallback_processes)
        self._retry_after = retry_after
        self._clock = clock
        self._down_since: float | None = None
        self._next_try = 0.0

    async def check(self, subject: str, per_minute: int) -> RateDecision:
        if self._down_since is None or self._clock() >= self._next_try:
            try:
                decision = await self._redis_check(subject, per_minute)
            except (RedisError, OSError) as exc:
                self._mark_down(exc)
            else:
                if self._down_since is not None:
                    logger.warning("Redis reachable again: rate limits are shared across processes")
                    self._down_since = None
                return decision
        share = max(1, per_minute // self._fallback_processes)
        decision = self._fallback.hit(subject, share)
        # Headers keep announcing the configured limit; only the enforcement is local.
        return RateDecision(
            decision.allowed, per_minute, decision.remaining, decision.reset_after, decision.retry_after
        )

    async def _redis_check(self, subject: str, per_minute: int) -> RateDecision:
        interval = 60_000_000 // per_minute
        burst = interval * per_minute
        allowed, reset_us, retry_us = await self._script(
            keys=[f"{self._prefix}rate:{subject}"], args=[interval, burst]
        )
        reset_after = int(reset_us) / 1e6
        if not allowed:
            return RateDecision(False, per_minute, 0, reset_after, int(retry_us) / 1e6)
        remaining = max(0, math.floor((burst - int(reset_us)) / interval))
        return RateDecision(True, per_minute, remaining, reset_after, 0.0)

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
            logger.error(
                "Redis unreachable (%s): rate limits fall back to per-process limits at 1/%d of each "
                "key's limit until it answers again",
                type(exc).__name__,
                self._fallback_processes,
            )
        self._next_try = self._clock() + self._retry_after

    def degraded(self) -> str | None:
        if self._down_since is None:
            return None
        return (
            f"Redis unreachable: rate limits are per process, at 1/{self._fallback_processes} of each limit"
        )

    async def aclose(self) -> None:
        return None  # the Redis client is shared and closed by its owner
