"""The result cache against a real server: two identical seeded requests with ``cache=True``, the
second served from the first at $0, and usage counting it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest

from freepik_ai_orchestrator import AsyncOrchestrationClient, OrchestrationClient
from tests.integration.conftest import LiveServer
from tests.support import resolve

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(kind: str, live_server: LiveServer) -> AsyncIterator[Any]:
    cls = OrchestrationClient if kind == "sync" else AsyncOrchestrationClient
    # A key of its own, so its usage counts only this test's generations.
    client = cls(
        base_url=live_server.url, api_key=live_server.create_key(f"cache-{kind}-{uuid.uuid4().hex[:8]}")
    )
    yield client
    await resolve(client.close())


async def test_a_second_identical_seeded_request_is_served_from_the_cache(live: Any) -> None:
    prompt = f"a lighthouse at dusk {uuid.uuid4().hex[:12]}"
    first = await resolve(live.generate(prompt, "stable-image-core", seed=42, cache=True))
    assert first.cached is False and first.cached_from is None
    second = await resolve(live.generate(prompt, "stable-image-core", seed=42, cache=True))
    assert second.id != first.id
    assert second.cached is True and second.cached_from == first.id
    assert second.cost == 0
    fetched = await resolve(live.get_generation(second.id))
    assert fetched.cached is True and fetched.cached_from == first.id
    today = datetime.now(timezone.utc).date()  # the server's days are UTC
    usage = await resolve(live.get_usage_stats(today.replace(day=1), today, group_by="cache"))
    assert usage.cached_generations >= 1
    assert usage.groups is not None and sum(bucket.cached for bucket in usage.groups) >= 1
