"""Retry behaviour of both clients end to end through the transport, with a fake clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    RateLimitError,
)
from freepik_ai_orchestrator._retry import http_date
from tests.support import FakeTime, MockServer, error_body, generation, resolve

RATE_LIMITED = error_body("rate_limit_error", "rate_limit_exceeded", "slow down")


async def test_retry_after_seconds_is_honoured(client: Any, server: MockServer, fake_time: FakeTime) -> None:
    server.json(429, RATE_LIMITED, {"Retry-After": "3"}).json(200, generation())
    result = await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert result.id == "gen_1"
    assert fake_time.sleeps == [3.0]


async def test_retry_after_http_date_is_honoured(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(fake_time.now + 7, tz=timezone.utc)
    server.json(503, error_body("internal_error", "overloaded"), {"Retry-After": http_date(when)})
    server.json(200, generation())
    await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert fake_time.sleeps == [pytest.approx(7.0)]


async def test_retry_after_ms_wins(client: Any, server: MockServer, fake_time: FakeTime) -> None:
    server.json(429, RATE_LIMITED, {"Retry-After": "9", "retry-after-ms": "250"}).json(200, generation())
    await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert fake_time.sleeps == [0.25]


async def test_retry_after_beyond_cap_raises_at_once(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    server.json(429, RATE_LIMITED, {"Retry-After": "60", "RateLimit-Limit": "1", "RateLimit-Remaining": "0"})
    with pytest.raises(RateLimitError) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert info.value.retry_after == 60.0
    assert info.value.limit == 1 and info.value.remaining == 0
    assert fake_time.sleeps == []
    assert len(server.requests) == 1


async def test_exhausted_retries_raise_the_last_error(
    client_factory: Any, server: MockServer, fake_time: FakeTime
) -> None:
    client = client_factory(max_retries=3, retry_backoff=2.0)  # the seed's configuration
    for _ in range(4):
        server.json(500, error_body("internal_error", "internal_error"))
    with pytest.raises(InternalServerError):
        await resolve(client.list_models())
    assert fake_time.sleeps == [2.0, 4.0, 8.0]
    assert [r.headers["X-Request-Attempt"] for r in server.requests] == ["1", "2", "3", "4"]


async def test_backoff_is_capped(client_factory: Any, server: MockServer, fake_time: FakeTime) -> None:
    client = client_factory(max_retries=6)
    for _ in range(6):
        server.json(502, error_body("provider_error", "provider_error"))
    server.json(200, {"object": "list", "data": []})
    await resolve(client.list_models())
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


async def test_jitter_shortens_by_at_most_a_quarter(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    client._random = lambda: 0.999999
    server.json(503, None).json(200, {"object": "list", "data": []})
    await resolve(client.list_models())
    assert 0.375 <= fake_time.sleeps[0] <= 0.5


async def test_x_should_retry_false_is_obeyed(client: Any, server: MockServer, fake_time: FakeTime) -> None:
    server.json(503, error_body("internal_error", "down"), {"x-should-retry": "false"})
    with pytest.raises(InternalServerError):
        await resolve(client.list_models())
    assert fake_time.sleeps == []


async def test_x_should_retry_true_retries_a_400(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    server.json(400, error_body("invalid_request_error", "x"), {"x-should-retry": "true"})
    server.json(200, {"object": "list", "data": []})
    assert await resolve(client.list_models()) == []
    assert fake_time.sleeps == [0.5]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 501])
async def test_non_retryable_statuses(
    status: int, client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    server.json(status, error_body("whatever", "whatever"))
    with pytest.raises(APIStatusError):  # the exact class is covered by the mapping tests
        await resolve(client.list_models())
    assert len(server.requests) == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_statuses(status: int, client: Any, server: MockServer) -> None:
    server.json(status, None).json(200, {"object": "list", "data": []})
    assert await resolve(client.list_models()) == []
    assert len(server.requests) == 2


async def test_in_flight_idempotency_conflict_is_retried(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    server.json(409, error_body("idempotency_conflict", "idempotency_key_in_use"), {"Retry-After": "1"})
    server.json(200, generation(), {"Idempotent-Replayed": "true"})
    result = await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert fake_time.sleeps == [1.0]
    assert result._idempotent_replayed is True
    keys = {r.headers["Idempotency-Key"] for r in server.requests}
    assert len(keys) == 1


async def test_real_conflict_is_not_retried(client: Any, server: MockServer) -> None:
    server.json(409, error_body("idempotency_conflict", "idempotency_key_reused"))
    with pytest.raises(ConflictError) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3", idempotency_key="mine"))
    assert info.value.code == "idempotency_key_reused"
    assert server.last.headers["Idempotency-Key"] == "mine"


async def test_idempotency_key_reused_across_retries_and_new_per_call(
    client: Any, server: MockServer
) -> None:
    server.json(502, None).add(httpx.ConnectError("reset")).json(200, generation())
    await resolve(client.generate(prompt="p", model="dall-e-3"))
    server.json(200, generation("gen_2"))
    await resolve(client.generate(prompt="p", model="dall-e-3"))
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
    assert [r.headers["X-Request-Attempt"] for r in server.requests] == ["1", "2", "3", "1"]


async def test_every_post_sends_an_idempotency_key(client: Any, server: MockServer) -> None:
    server.json(200, generation(status="canceled"))
    server.json(200, {"object": "batch", "id": "batch_1", "data": [], "succeeded": 0, "failed": 0})
    await resolve(client.cancel("gen_1"))
    await resolve(client.generate_batch(prompts=["a"], model="dall-e-3"))
    assert all(r.headers.get("Idempotency-Key") for r in server.requests)


async def test_gets_send_no_idempotency_key(client: Any, server: MockServer) -> None:
    server.json(200, generation())
    await resolve(client.get_generation("gen_1"))
    assert "Idempotency-Key" not in server.last.headers


async def test_connection_errors_are_retried_then_raised_with_cause(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    for _ in range(3):
        server.add(httpx.ConnectError("connection refused"))
    with pytest.raises(APIConnectionError) as info:
        await resolve(client.list_models())
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert fake_time.sleeps == [0.5, 1.0]


async def test_timeouts_are_retried_then_raised_with_cause(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    for _ in range(3):
        server.add(httpx.ReadTimeout("too slow"))
    with pytest.raises(APITimeoutError) as info:
        await resolve(client.get_generation("gen_1"))
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 3


async def test_timeout_then_success(client: Any, server: MockServer) -> None:
    server.add(httpx.ReadTimeout("too slow")).json(200, generation())
    assert (await resolve(client.get_generation("gen_1"))).id == "gen_1"


async def test_max_retries_zero(client_factory: Any, server: MockServer) -> None:
    client = client_factory(max_retries=0)
    server.json(503, None)
    with pytest.raises(InternalServerError):
        await resolve(client.list_models())
    assert len(server.requests) == 1


async def test_validation_error_is_not_retried(client: Any, server: MockServer) -> None:
    server.json(422, error_body("invalid_request_error", "invalid_unknown_field", param="colour"))
    with pytest.raises(InvalidRequestError) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert info.value.param == "colour"
    assert info.value.request_id == "req_x"


@pytest.mark.parametrize("bad", [-1, 1.5, None, True])
def test_invalid_max_retries_is_rejected(bad: Any) -> None:
    from freepik_ai_orchestrator import OrchestrationClient

    with pytest.raises(ValueError, match="max_retries"):
        OrchestrationClient(api_key="k", max_retries=bad)
