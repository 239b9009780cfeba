"""Partial images cross processes over the Redis event bus: a stream open in one process relays
the partial images a provider streamed to a worker in another. Two hubs, two buses, real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from conftest import REDIS_URL
from redis.asyncio import Redis

from orchestrator.generation.bus import RedisEventBus
from orchestrator.generation.events import EventHub, JobEvent, PartialImage


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_timeout=2)
    yield client
    await client.aclose()


async def test_a_partial_image_published_in_one_process_reaches_a_stream_in_another(
    redis, redis_prefix
) -> None:
    channel = f"{redis_prefix}events"
    worker_hub, stream_hub = EventHub(), EventHub()
    worker_bus = RedisEventBus(redis, worker_hub, channel=channel)
    stream_bus = RedisEventBus(redis, stream_hub, channel=channel)
    await worker_bus.start()
    await stream_bus.start()
    try:
        assert worker_bus.healthy and stream_bus.healthy
        backlog, queue = stream_hub.subscribe_partials("gen_remote")
        assert backlog == []
        sent = PartialImage("gen_remote", 1, b"\x89PNG partial bytes", "image/png", 512, 512)
        worker_hub.publish_partial(sent)
        worker_hub.publish(JobEvent("gen_remote", "running", 0.5))  # progress does not swallow it
        received = await asyncio.wait_for(queue.get(), timeout=10)
        assert received == sent
        # A late subscriber still gets it until the job ends; then the backlog is dropped.
        late, _ = stream_hub.subscribe_partials("gen_remote")
        assert late == [sent]
        ended = stream_hub.subscribe("gen_remote")
        worker_hub.publish(JobEvent("gen_remote", "succeeded", 1.0))
        while not (await asyncio.wait_for(ended.get(), timeout=10)).terminal:
            pass
        assert stream_hub.subscribe_partials("gen_remote")[0] == []
    finally:
        await worker_bus.stop()
        await stream_bus.stop()
