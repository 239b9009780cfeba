"""Every client method, sync and async, against a real running orchestrator (test-mode keys route
every model to the offline renderer, so no provider account is needed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from freepik_ai_orchestrator import (
    AsyncOrchestrationClient,
    AuthenticationError,
    BatchResult,
    BudgetExceededError,
    ConflictError,
    GenerationResponse,
    InvalidRequestError,
    ModelInfo,
    ModelNotAvailableError,
    NotFoundError,
    OrchestrationClient,
    PermissionDeniedError,
    RateLimitError,
    UsageStats,
)
from tests.integration.conftest import LiveServer
from tests.support import collect, resolve

pytestmark = pytest.mark.integration


def _client(kind: str, url: str, key: str, **kwargs: Any) -> Any:
    cls = OrchestrationClient if kind == "sync" else AsyncOrchestrationClient
    return cls(base_url=url, api_key=key, **kwargs)


@pytest.fixture
async def live(kind: str, live_server: LiveServer) -> AsyncIterator[Any]:
    client = _client(kind, live_server.url, live_server.key)
    yield client
    await resolve(client.close())


@pytest.fixture
async def slow(kind: str, slow_server: LiveServer) -> AsyncIterator[Any]:
    client = _client(kind, slow_server.url, slow_server.key)
    yield client
    await resolve(client.close())


def _tag() -> str:
    return uuid.uuid4().hex[:12]


# ------------------------------------------------------------------------------ generation


async def test_generate_and_download_png(live: Any, tmp_path: Path) -> None:
    result = await resolve(
        live.generate(
            prompt="A beautiful sunset over mountains",
            model="dall-e-3",
            style="photorealistic",
            size="1792x1024",
            quality="hd",
            metadata={"campaign": "summer-2024"},
        )
    )
    assert isinstance(result, GenerationResponse)
    assert result.status == "succeeded" and result.is_terminal
    assert result.image_url and result.thumbnail_url and result.images
    assert (result.images[0].width, result.images[0].height) == (1792, 1024)
    assert result.livemode is False and result.cost is not None and result.cost > 0
    assert result.metadata == {"campaign": "summer-2024"}
    assert result.created_at is not None and result.processing_time is not None
    assert result._request_id and result._request_id.startswith("req_")

    [path] = await resolve(live.download(result, tmp_path))
    assert path == tmp_path / f"{result.id}-0.png"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (1792, 1024)
    [thumb] = await resolve(live.download(result.images[0], tmp_path / "thumb", thumbnail=True))
    assert thumb == tmp_path / "thumb" / f"{result.id}-0-thumb.webp" and thumb.stat().st_size > 0
    # Signed URLs work without credentials.
    assert httpx.get(result.image_url).status_code == 200


async def test_idempotent_replay_and_conflict(live: Any) -> None:
    key = f"it-{_tag()}"
    first = await resolve(live.generate(prompt="same", model="dall-e-3", idempotency_key=key))
    again = await resolve(live.generate(prompt="same", model="dall-e-3", idempotency_key=key))
    assert again.id == first.id
    assert again._idempotent_replayed is True and first._idempotent_replayed is False
    with pytest.raises(ConflictError) as info:
        await resolve(live.generate(prompt="different", model="dall-e-3", idempotency_key=key))
    assert info.value.status_code == 409 and info.value.request_id


async def test_submit_then_wait_and_events(live: Any) -> None:
    job = await resolve(live.submit(prompt="a lighthouse", model="dall-e-3"))
    assert job.status in ("queued", "running", "succeeded")
    done = await resolve(live.wait_for(job.id, timeout=60))
    assert done.status == "succeeded" and done.id == job.id
    events = await collect(live.stream_events(job.id))
    assert events and events[-1].is_terminal and events[-1].data.id == job.id
    fetched = await resolve(live.get_generation(job.id))
    assert fetched.image_url == done.image_url or fetched.status == "succeeded"


async def test_cancel_a_finished_generation_conflicts(live: Any) -> None:
    done = await resolve(live.generate(prompt="finished", model="dall-e-3"))
    with pytest.raises(ConflictError):
        await resolve(live.cancel(done.id))


async def test_generate_batch(live: Any) -> None:
    responses = await resolve(
        live.generate_batch(prompts=["Prompt 1", "Prompt 2", "Prompt 3"], model="dall-e-3", batch_size=3)
    )
    assert isinstance(responses, BatchResult) and len(responses) == 3
    assert [r.prompt for r in responses] == ["Prompt 1", "Prompt 2", "Prompt 3"]
    assert all(r.ok and r.image_url for r in responses)
    assert responses.succeeded == 3 and responses.failed == 0
    assert responses.total_cost == pytest.approx(sum(g.cost for g in responses.generations))


async def test_history_pages_and_filters(live: Any) -> None:
    tag = _tag()
    made = []
    for i in range(3):
        made.append(
            await resolve(live.generate(prompt=f"history {i}", model="dall-e-2", metadata={"run": tag}))
        )
    page = await resolve(
        live.get_generation_history(limit=2, filter_by_model="dall-e-2", metadata={"run": tag})
    )
    assert len(page) == 2 and page.has_more and page.next_cursor
    items = await collect(page)
    assert {g.id for g in items} == {g.id for g in made}
    pages = await collect(page.iter_pages())
    assert [len(p) for p in pages] == [2, 1]
    searched = await resolve(live.get_generation_history(query="history 1", metadata={"run": tag}))
    assert [g.id for g in searched.data] == [made[1].id]
    succeeded = await resolve(
        live.get_generation_history(status="succeeded", metadata={"run": tag}, limit=10)
    )
    assert len(succeeded) == 3


# ------------------------------------------------------------------------------ catalog, usage


async def test_models(live: Any) -> None:
    models = await resolve(live.list_models())
    assert all(isinstance(m, ModelInfo) for m in models)
    names = [m.name for m in models]
    assert "dall-e-3" in names
    info = await resolve(live.get_model_info("dall-e-3"))
    assert info.max_resolution and "photorealistic" in info.supported_styles
    assert info.pricing_per_image is not None
    with pytest.raises(ModelNotAvailableError):
        await resolve(live.get_model_info("no-such-model"))


async def test_usage_stats(live: Any) -> None:
    await resolve(live.generate(prompt="counted", model="dall-e-3"))
    today = date.today()
    stats = await resolve(
        live.get_usage_stats(
            start_date=today - timedelta(days=1), end_date=today + timedelta(days=1), group_by="model"
        )
    )
    assert isinstance(stats, UsageStats)
    assert stats.total_generations >= 1 and stats.total_cost > 0
    assert stats.livemode is False
    assert any(b.key == "dall-e-3" for b in stats.by_model)
    as_strings = await resolve(live.get_usage_stats(start_date="2024-01-01", end_date="2024-01-31"))
    assert as_strings.total_generations == 0


# ------------------------------------------------------------------------------ errors


async def test_invalid_requests(live: Any) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await resolve(live.generate(prompt="x", model="dall-e-3", style="no-such-style"))
    assert info.value.status_code == 422 and info.value.param
    with pytest.raises(ModelNotAvailableError):
        await resolve(live.generate(prompt="x", model="no-such-model"))
    with pytest.raises(NotFoundError):
        await resolve(live.get_generation("gen_00000000000000000000000000"))


async def test_bad_key(kind: str, live_server: LiveServer) -> None:
    client = _client(kind, live_server.url, "sk-test-not-a-real-key")
    with pytest.raises(AuthenticationError) as info:
        await resolve(client.list_models())
    assert info.value.status_code == 401 and info.value.request_id
    await resolve(client.close())


async def test_missing_scope(kind: str, live_server: LiveServer) -> None:
    key = live_server.create_key(f"read-only-{kind}", scopes=("read",))
    client = _client(kind, live_server.url, key)
    with pytest.raises(PermissionDeniedError):
        await resolve(client.generate(prompt="x", model="dall-e-3"))
    await resolve(client.close())


async def test_budget_exceeded(kind: str, live_server: LiveServer) -> None:
    key = live_server.create_key(f"budget-{kind}", "--monthly-budget", "0.01")
    client = _client(kind, live_server.url, key)
    with pytest.raises(BudgetExceededError) as info:
        await resolve(client.generate(prompt="too dear", model="dall-e-3"))  # $0.04 > $0.01
    assert info.value.status_code == 402 and info.value.code
    await resolve(client.close())


async def test_rate_limit(kind: str, live_server: LiveServer) -> None:
    key = live_server.create_key(f"limited-{kind}", "--rate-limit", "1")
    client = _client(kind, live_server.url, key)
    await resolve(client.list_models())
    with pytest.raises(RateLimitError) as info:
        await resolve(client.list_models())
    assert info.value.retry_after is not None and info.value.retry_after > 30  # beyond the retry cap
    assert info.value.limit == 1 and info.value.remaining == 0
    await resolve(client.close())


# ------------------------------------------------------------------ jobs that outlive the sync wait


async def test_generate_waits_for_a_202_job(slow: Any) -> None:
    result = await resolve(slow.generate(prompt="slow one", model="dall-e-3"))
    assert result.status == "succeeded" and result.image_url


async def test_progress_events(slow: Any) -> None:
    job = await resolve(slow.submit(prompt="watch me", model="dall-e-3"))
    events = await collect(slow.stream_events(job.id))
    statuses = [e.status for e in events]
    assert statuses[-1] == "succeeded"
    assert "running" in statuses
    progress = [e.data.progress for e in events if e.status == "running"]
    assert progress == sorted(progress)


async def test_cancel_a_running_job(slow: Any) -> None:
    job = await resolve(slow.submit(prompt="cancel me", model="dall-e-3"))
    canceled = await resolve(slow.cancel(job.id))
    assert canceled.status == "canceled"
    assert (await resolve(slow.wait_for(job.id, timeout=30))).status == "canceled"
    with pytest.raises(ConflictError):
        await resolve(slow.cancel(job.id))


async def test_batch_waits_for_jobs_that_outlive_the_server_wait(slow: Any) -> None:
    responses = await resolve(
        slow.generate_batch(prompts=["slow a", "slow b"], model="dall-e-3", batch_size=2)
    )
    assert [r.status for r in responses] == ["succeeded", "succeeded"]
    assert all(r.image_url for r in responses) and responses.failed == 0
