"""Job events across processes over Redis pub/sub.

Every process publishes its jobs' state changes and "work queued" notices on one channel and
delivers what the others publish to its own :class:`EventHub`. A waiter in process A for a job
that process B finished is woken by B's terminal event (and re-reads the row), instead of by its
next poll; a job queued in A wakes B's idle dispatcher at once. The partial images a provider
streams for a job ride along too (a few per streamed job), so a stream open in A relays them.

Sending never blocks the caller: events go into a bounded queue that one task drains, coalescing
progress updates of the same job. If Redis is unreachable, events simply stay local and callers
fall back to polling (``healthy`` is False); the listener reconnects on its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.generation.events import EventHub, JobEvent, PartialImage

logger = logging.getLogger(__name__)


class RedisEventBus:
    def __init__(self, redis: Redis, hub: EventHub, *, channel: str, max_pending: int = 10_000) -> None:
        self._redis = redis
        self._hub = hub
        self._channel = channel
        self._origin = uuid.uuid4().hex
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.healthy = False

    async def start(self) -> None:
        self._hub.attach_bus(self)
        self._tasks = [
            asyncio.create_task(self._listen(), name="event-bus-listen"),
            asyncio.create_task(self._send(), name="event-bus-send"),
        ]
        # Start-up should not hang on a dead Redis; the listener keeps retrying on its own.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=2.0)

    async def stop(self) -> None:
        self._hub.attach_bus(None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def job_event(self, event: JobEvent) -> None:
        self._offer({"k": "job", "id": event.generation_id, "s": event.status, "p": event.progress})

    def work_queued(self) -> None:
        self._offer({"k": "work"})

    def partial_image(self, partial: PartialImage) -> None:
        # A few per streamed job (OpenAI sends at most 3), so the bytes ride along, base64.
        self._offer(
            {
                "k": "partial",
                "id": partial.generation_id,
                "i": partial.index,
                "d": base64.b64encode(partial.data).decode(),
                "t": partial.content_type,
                "w": partial.width,
                "h": partial.height,
            }
        )

    def _offer(self, message: dict[str, Any]) -> None:
        if not self.healthy:
            return  # nobody would hear it; waiters poll meanwhile
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            logger.warning("event bus backlog full; dropping an event (waiters fall back to polling)")

    async def _send(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                await self._publish(_coalesce(batch))
            except (RedisError, OSError) as exc:
                logger.warning("event bus publish failed (%s); waiters fall back to polling", exc)

    async def _publish(self, messages: list[dict[str, Any]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self._channel, json.dumps({**message, "o": self._origin}))
            await pipe.execute()

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.healthy = True
                self._subscribed.set()
                delay = 0.2
                # Anything published while we were deaf is only seen by polling: wake the
                # dispatcher once so queued work is picked up now.
                self._hub.wake_local_workers()
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["data"])
            except (RedisError, OSError) as exc:
                if self.healthy:
                    logger.warning("event bus lost Redis (%s); polling until it is back", exc)
                self.healthy = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _deliver(self, raw: bytes | str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("o") == self._origin:
            return
        if message.get("k") == "work":
            self._hub.wake_local_workers()
        elif message.get("k") == "job" and isinstance(message.get("id"), str):
            self._hub.deliver(JobEvent(message["id"], str(message.get("s")), float(message.get("p") or 0)))
        elif message.get("k") == "partial" and isinstance(message.get("id"), str):
            try:
                data = base64.b64decode(str(message.get("d") or ""), validate=True)
            except ValueError:
                return
            width, height = message.get("w"), message.get("h")
            self._hub.deliver_partial(
                PartialImage(
                    message["id"],
                    int(message.get("i") or 0),
                    data,
                    str(message.get("t") or "image/png"),
                    width if isinstance(width, int) else None,
                    height if isinstance(height, int) else None,
                )
            )


def _coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep every state change and terminal event, but only the latest progress of each job."""
    out: list[dict[str, Any]] = []
    latest_progress: dict[str, int] = {}
    work = False
    for message in batch:
        if message["k"] == "work":
            work = True
            continue
        if message["k"] == "job" and message["s"] == "running":
            if message["id"] in latest_progress:
                out[latest_progress[message["id"]]] = message
                continue
            latest_progress[message["id"]] = len(out)
        out.append(message)
    if work:
        out.append({"k": "work"})
    return out
