"""The :class:`~orchestrator.limits.concurrency.ConcurrencyGate` shared by every process, in Redis.

One hash holds each principal's active (queued or running) jobs across the deployment. Counting
one more is a single atomic ``HINCRBY`` whose answer says whether the principal was under its cap;
giving one back is one Lua script that never goes below zero. A process that dies without giving
back its counts leaves them too high only until the next :meth:`reset`, which every process's
lease recovery runs periodically from the database (the truth). If Redis is unreachable, the gate
counts in-process instead (the claim query in the database still caps running jobs) and says so
through :meth:`degraded`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.limits.concurrency import InProcessConcurrencyGate

logger = logging.getLogger(__name__)

# KEYS[1]: the counts hash. ARGV[1]: the slot. Returns the count left.
RELEASE_SCRIPT = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
return n
"""


class RedisConcurrencyGate:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._key = f"{prefix}active"
        self._release = redis.register_script(RELEASE_SCRIPT)
        self._known: dict[str, int] = {}
        self._fallback = InProcessConcurrencyGate()
        self._unreachable = False

    async def admit(self, slot: str, cap: int) -> bool:
        try:
            count = int(await self._redis.hincrby(self._key, slot, 1))
        except (RedisError, OSError) as exc:
            self._down(exc)
            return await self._fallback.admit(slot, cap)
        self._up()
        self._known[slot] = count
        return count - 1 < cap

    async def release(self, slot: str) -> None:
        try:
            left = int(await self._release(keys=[self._key], args=[slot]))
        except (RedisError, OSError) as exc:
            self._down(exc)
            await self._fallback.release(slot)
            return
        self._up()
        if left:
            self._known[slot] = left
        else:
            self._known.pop(slot, None)

    async def reset(self, counts: Mapping[str, int]) -> None:
        live = {slot: n for slot, n in counts.items() if n > 0}
        await self._fallback.reset(live)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._key)
                if live:
                    pipe.hset(self._key, mapping=live)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._down(exc)
            return
        self._up()
        self._known = live

    def active(self, slot: str) -> int:
        """The count last seen by this process (exact right after its own admit or release)."""
        if self._unreachable:
            return self._fallback.active(slot)
        return self._known.get(slot, 0)

    def degraded(self) -> str | None:
        if self._unreachable:
            return "Redis unreachable: concurrency caps are enforced by the database claim only"
        return None

    def _down(self, exc: BaseException) -> None:
        if not self._unreachable:
            logger.error(
                "Redis unreachable (%s): every job goes through the database claim, which enforces "
                "concurrency caps across processes",
                exc,
            )
        self._unreachable = True

    def _up(self) -> None:
        if self._unreachable:
            logger.warning("Redis reachable again: concurrency caps are shared across processes")
        self._unreachable = False
