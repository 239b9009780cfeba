"""``timeout`` bounds a whole call (retries, backoff and server-side waiting included), measured
on the fake clock: the mock server "holds" a request by advancing the clock, as a real one would."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import (
    NOT_GIVEN,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
)
from tests.support import FakeTime, MockServer, collect, error_body, generation, resolve

MARGIN = 1e-6  # the fake clock is exact


class Clocked:
    """Replies that take server time: the fake clock moves as the server holds the request."""

    def __init__(self, fake: FakeTime, job_seconds: float, sync_wait: float = 300.0) -> None:
        self.fake = fake
        self.job_seconds = job_seconds
        self.sync_wait = sync_wait
        self.started = fake.monotonic

    def finished_at(self) -> float:
        return self.started + self.job_seconds

    def hold(self, seconds: float) -> None:
        self.fake.monotonic += seconds
        self.fake.now += seconds

    def post(self, request: httpx.Request) -> httpx.Response:
        """POST /generate honouring ``Prefer: wait=N`` like the server (whole seconds, capped
        by its own sync wait)."""
        match = re.search(r"wait=(\d+)", request.headers.get("Prefer", ""))
        wait = min(float(match.group(1)), self.sync_wait) if match else self.sync_wait
        left = self.finished_at() - self.fake.monotonic
        if left <= wait:
            self.hold(max(left, 0.0))
            return httpx.Response(200, json=generation())
        self.hold(wait)
        return httpx.Response(202, json=generation(status="running", image_url=None, images=[]))

    def get(self, request: httpx.Request) -> httpx.Response:
        done = self.fake.monotonic >= self.finished_at()
        return httpx.Response(200, json=generation() if done else generation(status="running"))


def _elapsed(fake: FakeTime, start: float) -> float:
    return fake.monotonic - start


@pytest.mark.parametrize(("timeout", "wait_timeout"), [(2.0, NOT_GIVEN), (NOT_GIVEN, 2.0), (3.0, 2.0)])
async def test_generate_is_bounded_by_timeout_and_wait_timeout(
    timeout: Any, wait_timeout: Any, client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    # The reported case: a 6 s job, a 2 s bound. The server would hold the request 300 s.
    clock = Clocked(fake_time, job_seconds=6.0)
    server.add(clock.post)
    server.fallback = clock.get
    start = fake_time.monotonic
    kwargs: dict[str, Any] = {}
    if timeout is not NOT_GIVEN:
        kwargs["timeout"] = timeout
    if wait_timeout is not NOT_GIVEN:
        kwargs["wait_timeout"] = wait_timeout
    with pytest.raises(APITimeoutError) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3", **kwargs))
    assert _elapsed(fake_time, start) <= 2.0 + MARGIN
    assert info.value.generation_id == "gen_1"  # the job keeps running; wait_for() or cancel() it
    assert "2 s timeout" in str(info.value)
    post = server.requests[0]
    assert post.headers["Prefer"] == "wait=1"  # the server hands the job back within the budget
    assert post.extensions["timeout"]["read"] == pytest.approx(2.0)


async def test_generate_returns_when_the_job_fits(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    clock = Clocked(fake_time, job_seconds=6.0, sync_wait=1.0)
    server.add(clock.post)
    server.fallback = clock.get
    start = fake_time.monotonic
    result = await resolve(client.generate(prompt="p", model="dall-e-3", timeout=8))
    assert result.status == "succeeded"
    assert _elapsed(fake_time, start) <= 8.0
    # Every poll's read timeout is what was left of the 8 s.
    for request in server.requests[1:]:
        assert request.extensions["timeout"]["read"] <= 8.0 - 1.0 + MARGIN


async def test_retries_and_backoff_stay_within_the_budget(
    client: Any, server: MockServer, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    # 0.5 s backoff fits in 1.2 s; the next (1 s) does not: the 503 is raised at once, not after
    # sleeping past the budget.
    server.fallback = lambda request: httpx.Response(503, json=error_body("internal_error", "unavailable"))
    start = fake_time.monotonic
    with caplog.at_level(logging.INFO, logger="freepik_ai_orchestrator"), pytest.raises(InternalServerError):
        await resolve(client.list_models(timeout=1.2))
    assert caplog.messages == [
        "Retrying GET /api/v1/models in 0.5 s (attempt 2 of 3): 503 Service Unavailable (unavailable)",
        "Not retrying GET /api/v1/models (503 Service Unavailable (unavailable)): waiting 1.0 s would "
        "exceed the call's 1.2 s timeout (0.7 s left)",
    ]
    assert fake_time.sleeps == [0.5]
    assert _elapsed(fake_time, start) <= 1.2
    assert len(server.requests) == 2
    # The second attempt's per-request timeouts were cut to what was left.
    second = server.requests[1].extensions["timeout"]
    assert second["read"] == pytest.approx(0.7) and second["connect"] == pytest.approx(0.7)
    assert server.requests[1].headers["X-Client-Timeout"] == "0.7"


async def test_a_retry_after_hint_longer_than_the_budget_is_not_slept(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    server.json(429, error_body("rate_limit_error", "rate_limited"), headers={"Retry-After": "5"})
    with pytest.raises(RateLimitError) as info:
        await resolve(client.get_generation("gen_1", timeout=3))
    assert info.value.retry_after == 5.0
    assert fake_time.sleeps == [] and len(server.requests) == 1


async def test_a_request_timing_out_at_the_deadline_is_not_retried(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        fake_time.monotonic += request.extensions["timeout"]["read"]
        raise httpx.ReadTimeout("timed out", request=request)

    server.fallback = hang
    start = fake_time.monotonic
    with pytest.raises(APITimeoutError, match=r"2\.5 s timeout ran out"):
        await resolve(client.get_model_info("dall-e-3", timeout=2.5))
    assert len(server.requests) == 1 and fake_time.sleeps == []
    assert _elapsed(fake_time, start) <= 2.5 + MARGIN


async def test_wait_for_uses_the_client_timeout_by_default(
    client_factory: Callable[..., Any], server: MockServer, fake_time: FakeTime
) -> None:
    client = client_factory(timeout=4)
    server.fallback = lambda request: httpx.Response(200, json=generation(status="running"))
    start = fake_time.monotonic
    with pytest.raises(APITimeoutError) as info:
        await resolve(client.wait_for("gen_1", poll_interval=1))
    assert info.value.generation_id == "gen_1"
    assert _elapsed(fake_time, start) == pytest.approx(4.0)


@pytest.mark.parametrize("where", ["client", "call"])
async def test_none_means_no_bound_for_the_client_and_for_a_call(
    where: str, client_factory: Callable[..., Any], server: MockServer, fake_time: FakeTime
) -> None:
    client = client_factory(timeout=None) if where == "client" else client_factory(timeout=1)
    per_call: dict[str, Any] = {} if where == "client" else {"timeout": None}
    clock = Clocked(fake_time, job_seconds=50.0, sync_wait=3.0)
    server.add(clock.post)
    server.fallback = clock.get
    result = await resolve(client.generate(prompt="p", model="m", wait_timeout=None, **per_call))
    assert result.status == "succeeded"
    post = server.requests[0]
    assert "Prefer" not in post.headers and "X-Client-Timeout" not in post.headers
    assert post.extensions["timeout"] == {"connect": None, "read": None, "write": None, "pool": None}
    assert fake_time.monotonic - clock.started >= 50.0


async def test_not_given_uses_the_client_timeout(
    client_factory: Callable[..., Any], server: MockServer
) -> None:
    client = client_factory(timeout=httpx.Timeout(7.0, connect=2.0))
    server.json(200, generation()).json(200, generation())
    await resolve(client.get_generation("gen_1"))
    await resolve(client.get_generation("gen_1", timeout=NOT_GIVEN))
    for request in server.requests:
        assert request.extensions["timeout"] == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 7.0}


async def test_batch_waits_for_pending_items_within_the_budget(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    pending = generation("gen_b", status="running", image_url=None)
    batch = {
        "object": "batch",
        "id": "bat_1",
        "data": [
            {"index": 0, "prompt": "a", "status": "succeeded", "generation": generation("gen_a")},
            {
                "index": 1,
                "prompt": "b",
                "status": "failed",
                "generation": pending,
                "error": {"code": "generation_pending", "message": "running", "generation_id": "gen_b"},
            },
        ],
        "succeeded": 1,
        "failed": 1,
        "total_cost": 0.04,
    }
    server.json(200, batch)
    server.fallback = lambda request: httpx.Response(200, json=pending)
    start = fake_time.monotonic
    with pytest.raises(APITimeoutError) as info:
        await resolve(client.generate_batch(prompts=["a", "b"], model="dall-e-3", wait_timeout=3))
    assert info.value.generation_id == "gen_b"
    assert _elapsed(fake_time, start) == pytest.approx(3.0)


async def test_stream_events_reconnects_only_within_the_budget(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    running = b"event: running\ndata: " + httpx.Response(200, json=generation(status="running")).content
    server.fallback = lambda request: httpx.Response(200, content=running + b"\n\n")
    start = fake_time.monotonic
    with pytest.raises(APITimeoutError) as info:
        await collect(client.stream_events("gen_1", timeout=1.2, max_retries=10))
    assert info.value.generation_id == "gen_1"
    assert fake_time.sleeps == [0.5]  # the next reconnect (1 s later) would pass the deadline
    assert _elapsed(fake_time, start) <= 1.2


async def test_download_is_bounded(
    client: Any, server: MockServer, fake_time: FakeTime, tmp_path: Any
) -> None:
    def slow_503(request: httpx.Request) -> httpx.Response:
        # A server that takes 5 s to answer, cut short by the request's read timeout.
        read = request.extensions["timeout"]["read"]
        fake_time.monotonic += min(5.0, read)
        if read < 5.0:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(503)

    server.fallback = slow_503
    start = fake_time.monotonic
    with pytest.raises(APITimeoutError, match="6 s timeout ran out"):
        await resolve(client.download("https://cdn.example/a.png", tmp_path / "a.png", timeout=6))
    assert len(server.requests) == 2 and fake_time.sleeps == [0.5]
    assert _elapsed(fake_time, start) <= 6.0 + MARGIN
    assert list(tmp_path.iterdir()) == []


async def test_budgets_must_be_positive(client: Any) -> None:
    for bad in ({"timeout": 0}, {"timeout": -1}, {"wait_timeout": 0}, {"wait_timeout": float("nan")}):
        with pytest.raises(ValueError, match="positive number of seconds"):
            await resolve(client.generate(prompt="p", model="m", **bad))
