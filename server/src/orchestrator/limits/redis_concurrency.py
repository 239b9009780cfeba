"""Per-key concurrency slots in Redis, shared by every process, safe against crashed holders.

Each subject is a sorted set of slot tokens scored by their expiry. Acquiring is one Lua script:
drop expired tokens, count, add ours if under the cap. The process refreshes the expiry of the
tokens it holds every ``ttl / 3``; a process that dies stops refreshing, so its slots free
themselves after ``ttl`` instead of leaking forever. If Redis is unreachable the gate admits
(the database's claim query still caps running jobs) and says so through :meth:`degraded`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# KEYS[1]: the subject's slot set. ARGV: cap, token, ttl in ms. Uses Redis's clock.
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""

# KEYS[1]: the slot set. ARGV: ttl in ms, then the tokens to keep alive.
REFRESH_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
"""


class RedisConcurrencyGate:
    def __init__(self, redis: Redis, *, prefix: str, ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1000, int(ttl * 1000))
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._refresh = redis.register_script(REFRESH_SCRIPT)
        self._held: defaultdict[str, list[str]] = defaultdict(list)
        self._unreachable = False
        self._task: asyncio.Task[None] | None = None

    def _key(self, subject: str) -> str:
        return f"{self._prefix}running:{subject}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_alive(), name="concurrency-keepalive")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def acquire(self, subject: str, cap: int) -> bool:
        token = uuid.uuid4().hex
        try:
            granted = bool(await self._acquire(keys=[self._key(subject)], args=[cap, token, self._ttl_ms]))
        except (RedisError, OSError) as exc:
            if not self._unreachable:
                logger.error(
                    "Redis unreachable (%s): concurrency caps are enforced by the database only", exc
                )
            self._unreachable = True
            return True
        self._unreachable = False
        if granted:
            self._held[subject].append(token)
        return granted

    async def release(self, subject: str) -> None:
        tokens = self._held.get(subject)
        if not tokens:
            return  # admitted while Redis was away: nothing to give back
        token = tokens.pop()
        if not tokens:
            del self._held[subject]
        with contextlib.suppress(RedisError, OSError):  # unreleased, it expires after ttl
            await self._redis.zrem(self._key(subject), token)

    def degraded(self) -> str | None:
        return (
            "Redis unreachable: concurrency caps enforced by the database only" if self._unreachable else None
        )

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            for subject, tokens in list(self._held.items()):
                if not tokens:
                    continue
                try:
                    await self._refresh(keys=[self._key(subject)], args=[self._ttl_ms, *tokens])
                except (RedisError, OSError) as exc:
                    logger.warning("refreshing concurrency slots failed: %s", exc)
                    break
