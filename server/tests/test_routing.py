"""RouteExecutor: retries, backoff, Retry-After, deadlines, circuit breakers and fallback.

Providers here are scripted fakes and time is fake (injected clock/sleep/random), so every
test is instant and deterministic. The same behaviour against real adapters and emulators over
loopback HTTP is in ``tests/providers/test_executor_with_emulators.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.catalog.catalog import Route
from orchestrator.generation.routing import (
    BreakerPolicy,
    BreakerState,
    RetryPolicy,
    RouteAttempt,
    RouteExecutor,
    RoutingError,
)
from orchestrator.providers.base import (
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)

RESULT = ProviderResult(images=[ProviderImage(b"png", "image/png", 1, 1)], provider_job_id="job")


class FakeTime:
    """A clock that only moves when the executor sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def err(
    kind: ProviderErrorKind, code: str = "x", retry_after: float | None = None, provider: str = "p"
) -> ProviderError:
    return ProviderError(
        kind, f"{kind} {code}", provider=provider, provider_code=code, retry_after=retry_after
    )


class Scripted:
    """A provider that plays a script: each call pops an exception to raise or returns RESULT."""

    def __init__(
        self, name: str, *script: ProviderError | None, on_call: Callable[[], None] | None = None
    ) -> None:
        self.name = name
        self.script = list(script)
        self.calls = 0
        self.on_call = on_call

    async def generate(self, request: ProviderRequest, on_progress: Any) -> ProviderResult:
        self.calls += 1
        if self.on_call:
            self.on_call()
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return RESULT

    async def aclose(self) -> None:
        pass


def attempt(provider: Any, deadline: float | None = None) -> RouteAttempt:
    return RouteAttempt(
        route=Route(provider=provider.name, model=f"{provider.name}-model"),
        provider=provider,
        request=ProviderRequest(prompt="a cat", provider_model=f"{provider.name}-model", width=64, height=64,
                                deadline=deadline),
    )  # fmt: skip


async def progress(_: float) -> None:
    pass


def executor(t: FakeTime, *, retry: RetryPolicy | None = None, breaker: BreakerPolicy | None = None,
             jitter: float = 1.0) -> RouteExecutor:  # fmt: skip
    return RouteExecutor(retry or RetryPolicy(), breaker or BreakerPolicy(), clock=t.clock, sleep=t.sleep,
                         random=lambda: jitter)  # fmt: skip


RETRYABLE = ProviderErrorKind.RETRYABLE


async def test_first_route_success_has_no_failures() -> None:
    t = FakeTime()
    a = Scripted("a")
    outcome = await executor(t).execute([attempt(a)], progress)
    assert outcome.route.provider == "a" and outcome.result is RESULT
    assert outcome.failures == [] and a.calls == 1 and t.sleeps == []


async def test_retryable_failure_is_retried_with_full_jitter_backoff() -> None:
    t = FakeTime()
    a = Scripted("a", err(RETRYABLE, "server_error"), err(RETRYABLE, "server_error"))
    ex = executor(t, retry=RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8), jitter=0.5)
    outcome = await ex.execute([attempt(a)], progress)
    assert a.calls == 3
    # full jitter: random() * min(max_delay, base * 2**(n-1)) -> 0.5*0.5, 0.5*1.0
    assert t.sleeps == [0.25, 0.5]
    assert [(f.provider, f.code) for f in outcome.failures] == [("a", "server_error"), ("a", "server_error")]


def test_backoff_is_capped() -> None:
    ex = executor(FakeTime(), retry=RetryPolicy(base_delay=0.5, max_delay=3), jitter=1.0)
    assert [ex.backoff(n) for n in (1, 2, 3, 4, 10)] == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_retry_after_from_provider_is_honoured_instead_of_backoff() -> None:
    t = FakeTime()
    a = Scripted("a", err(RETRYABLE, "rate_limit_exceeded", retry_after=7.0))
    await executor(t, jitter=0.01).execute([attempt(a)], progress)
    assert t.sleeps == [7.0] and a.calls == 2


async def test_too_long_retry_after_falls_back_instead_of_waiting() -> None:
    t = FakeTime()
    a = Scripted("a", err(RETRYABLE, "rate_limit_exceeded", retry_after=600.0))
    b = Scripted("b")
    outcome = await executor(t, retry=RetryPolicy(max_retry_after=60)).execute(
        [attempt(a), attempt(b)], progress
    )
    assert outcome.route.provider == "b"
    assert a.calls == 1 and t.sleeps == []


@pytest.mark.parametrize(
    "kind", [ProviderErrorKind.CONTENT_POLICY, ProviderErrorKind.AUTH, ProviderErrorKind.INVALID_REQUEST]
)
async def test_final_failures_are_never_retried_nor_fallen_back(kind: ProviderErrorKind) -> None:
    t = FakeTime()
    a = Scripted("a", err(kind, "refused"))
    b = Scripted("b")
    with pytest.raises(RoutingError) as info:
        await executor(t).execute([attempt(a), attempt(b)], progress)
    assert info.value.kind is kind and info.value.provider_code == "refused"
    assert isinstance(info.value, ProviderError)  # callers catching ProviderError still work
    assert a.calls == 1 and b.calls == 0 and t.sleeps == []
    assert [(f.provider, f.code) for f in info.value.failures] == [("a", "refused")]


async def test_falls_back_after_max_attempts_and_records_every_failure() -> None:
    t = FakeTime()
    a = Scripted("a", *[err(RETRYABLE, "server_error")] * 5)
    b = Scripted("b")
    outcome = await executor(t, retry=RetryPolicy(max_attempts=2)).execute([attempt(a), attempt(b)], progress)
    assert outcome.route.provider == "b"
    assert a.calls == 2 and b.calls == 1
    assert [(f.provider, f.code, f.kind) for f in outcome.failures] == [("a", "server_error", RETRYABLE)] * 2


async def test_all_routes_failing_raises_the_last_retryable_error() -> None:
    t = FakeTime()
    a = Scripted("a", *[err(RETRYABLE, "a_down")] * 3)
    b = Scripted("b", *[err(RETRYABLE, "b_down")] * 3)
    with pytest.raises(RoutingError) as info:
        await executor(t, retry=RetryPolicy(max_attempts=1)).execute([attempt(a), attempt(b)], progress)
    assert info.value.kind is RETRYABLE and info.value.provider_code == "b_down"
    assert [f.code for f in info.value.failures] == ["a_down", "b_down"]


async def test_never_sleeps_past_the_deadline_and_ends_with_provider_timeout() -> None:
    t = FakeTime()
    deadline = t.now + 5.0
    # Every attempt takes 2s of (fake) time, then fails retryably.
    a = Scripted("a", *[err(RETRYABLE, "server_error")] * 10, on_call=lambda: setattr(t, "now", t.now + 2.0))
    b = Scripted("b", *[err(RETRYABLE, "server_error")] * 10, on_call=lambda: setattr(t, "now", t.now + 2.0))
    ex = executor(t, retry=RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=1.0))
    with pytest.raises(RoutingError) as info:
        await ex.execute([attempt(a, deadline), attempt(b, deadline)], progress)
    assert info.value.kind is ProviderErrorKind.TIMEOUT
    assert info.value.provider_code == "provider_timeout"
    # a: t=1000 call->1002, sleep 1 ->1003, call ->1005 = deadline: no retry, fall back to b, which
    # finds the deadline gone.
    assert a.calls == 2 and b.calls == 0 and t.sleeps == [1.0]


async def test_retry_that_would_wake_after_deadline_falls_back_at_once() -> None:
    t = FakeTime()
    deadline = t.now + 10
    a = Scripted("a", err(RETRYABLE, "rate_limit_exceeded", retry_after=30))
    b = Scripted("b")
    outcome = await executor(t).execute([attempt(a, deadline), attempt(b, deadline)], progress)
    assert outcome.route.provider == "b" and t.sleeps == []


async def test_deadline_already_passed_raises_timeout_without_calling() -> None:
    t = FakeTime()
    a = Scripted("a")
    with pytest.raises(RoutingError) as info:
        await executor(t).execute([attempt(a, deadline=t.now - 1)], progress)
    assert info.value.kind is ProviderErrorKind.TIMEOUT and a.calls == 0


async def test_breaker_opens_fails_fast_half_opens_and_recovers() -> None:
    t = FakeTime()
    ex = executor(
        t, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=3, cooldown=30)
    )
    a = Scripted("a", *[err(RETRYABLE, "server_error")] * 3)
    for _ in range(3):
        with pytest.raises(RoutingError):
            await ex.execute([attempt(a)], progress)
    assert a.calls == 3 and ex.breaker("a").state is BreakerState.OPEN

    # Open: fail fast without calling the provider, as a retryable failure so fallback happens.
    b = Scripted("b")
    outcome = await ex.execute([attempt(a), attempt(b)], progress)
    assert a.calls == 3 and outcome.route.provider == "b"
    assert [(f.provider, f.code) for f in outcome.failures] == [("a", "circuit_open")]
    with pytest.raises(RoutingError) as info:
        await ex.execute([attempt(a)], progress)
    assert info.value.kind is RETRYABLE and info.value.provider_code == "circuit_open"

    # After the cool-down one probe goes through; it fails, so the breaker opens again.
    t.now += 30
    assert ex.breaker("a").state is BreakerState.HALF_OPEN
    a.script = [err(RETRYABLE, "server_error")]
    with pytest.raises(RoutingError):
        await ex.execute([attempt(a)], progress)
    assert a.calls == 4 and ex.breaker("a").state is BreakerState.OPEN
    with pytest.raises(RoutingError):
        await ex.execute([attempt(a)], progress)
    assert a.calls == 4

    # Next cool-down: the probe succeeds and the breaker closes; traffic flows again.
    t.now += 30
    await ex.execute([attempt(a)], progress)
    assert ex.breaker("a").state is BreakerState.CLOSED and a.calls == 5
    await ex.execute([attempt(a)], progress)
    assert a.calls == 6


async def test_success_resets_the_consecutive_failure_count() -> None:
    t = FakeTime()
    ex = executor(
        t, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=2, cooldown=30)
    )
    a = Scripted("a", err(RETRYABLE), None, err(RETRYABLE), None)
    for _ in range(4):
        with contextlib.suppress(RoutingError):
            await ex.execute([attempt(a)], progress)
    assert ex.breaker("a").state is BreakerState.CLOSED and a.calls == 4


async def test_refusals_do_not_count_against_the_breaker() -> None:
    t = FakeTime()
    ex = executor(t, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=1))
    a = Scripted("a", err(ProviderErrorKind.CONTENT_POLICY), err(ProviderErrorKind.CONTENT_POLICY))
    for _ in range(2):
        with pytest.raises(RoutingError):
            await ex.execute([attempt(a)], progress)
    assert ex.breaker("a").state is BreakerState.CLOSED and a.calls == 2


async def test_half_open_lets_a_single_probe_through() -> None:
    t = FakeTime()
    ex = executor(
        t, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=1, cooldown=10)
    )
    gate = asyncio.Event()

    class Slow(Scripted):
        async def generate(self, request: ProviderRequest, on_progress: Any) -> ProviderResult:
            self.calls += 1
            await gate.wait()
            return RESULT

    a = Scripted("a", err(RETRYABLE))
    with pytest.raises(RoutingError):
        await ex.execute([attempt(a)], progress)
    t.now += 10
    slow = Slow("a")
    probe = asyncio.create_task(ex.execute([attempt(slow)], progress))
    await asyncio.sleep(0)
    assert slow.calls == 1
    b = Scripted("b")
    outcome = await ex.execute([attempt(slow), attempt(b)], progress)  # probe in flight: skip a
    assert outcome.route.provider == "b" and slow.calls == 1
    gate.set()
    await probe
    assert ex.breaker_states()["a"] is BreakerState.CLOSED


async def test_cancelled_probe_releases_half_open() -> None:
    t = FakeTime()
    ex = executor(
        t, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=1, cooldown=10)
    )
    with pytest.raises(RoutingError):
        await ex.execute([attempt(Scripted("a", err(RETRYABLE)))], progress)
    t.now += 10

    class Forever(Scripted):
        async def generate(self, request: ProviderRequest, on_progress: Any) -> ProviderResult:
            self.calls += 1
            await asyncio.Event().wait()
            raise AssertionError

    probe = asyncio.create_task(ex.execute([attempt(Forever("a"))], progress))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    a = Scripted("a")
    await ex.execute([attempt(a)], progress)  # a new probe is allowed
    assert a.calls == 1


async def test_breakers_are_per_provider() -> None:
    t = FakeTime()
    ex = executor(t, retry=RetryPolicy(max_attempts=1), breaker=BreakerPolicy(failure_threshold=1))
    with pytest.raises(RoutingError):
        await ex.execute([attempt(Scripted("a", err(RETRYABLE)))], progress)
    b = Scripted("b")
    await ex.execute([attempt(b)], progress)
    assert ex.breaker_states() == {"a": BreakerState.OPEN, "b": BreakerState.CLOSED}


async def test_hung_provider_that_ignores_its_deadline_is_cut_off() -> None:
    """The executor bounds a call even when the adapter never looks at ``deadline``."""

    class Hung(Scripted):
        async def generate(self, request: ProviderRequest, on_progress: Any) -> ProviderResult:
            self.calls += 1
            await asyncio.sleep(60)
            return RESULT

    ex = RouteExecutor(RetryPolicy(max_attempts=3, deadline_grace=0.05))
    started = time.monotonic()
    with pytest.raises(RoutingError) as info:
        await ex.execute([attempt(Hung("h"), deadline=started + 0.2)], progress)
    assert info.value.kind is ProviderErrorKind.TIMEOUT and info.value.provider_code == "provider_timeout"
    assert time.monotonic() - started < 1.0


async def test_attempt_timeout_abandons_a_hung_route_in_time_to_fall_back() -> None:
    class Hung(Scripted):
        async def generate(self, request: ProviderRequest, on_progress: Any) -> ProviderResult:
            self.calls += 1
            assert request.deadline is not None and request.deadline < time.monotonic() + 0.2
            await asyncio.sleep(60)
            return RESULT

    hung, b = Hung("h"), Scripted("b")
    ex = RouteExecutor(RetryPolicy(max_attempts=1, attempt_timeout=0.1, deadline_grace=0.02))
    deadline = time.monotonic() + 5
    outcome = await ex.execute([attempt(hung, deadline), attempt(b, deadline)], progress)
    assert outcome.route.provider == "b" and hung.calls == 1
    assert [(f.provider, f.kind) for f in outcome.failures] == [("h", ProviderErrorKind.TIMEOUT)]


async def test_no_routes_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        await RouteExecutor().execute([], progress)


def test_retry_policy_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
