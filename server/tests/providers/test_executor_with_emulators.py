"""RouteExecutor driving real adapters against emulators over loopback HTTP.

Sleep is injected (recorded, not slept) so retries are instant; the emulators' request logs
prove what actually went over the wire.
"""

from __future__ import annotations

import time

import httpx
import pytest
from provider_emulators import openai as openai_emu
from provider_emulators import replicate as replicate_emu
from provider_emulators import stability as stability_emu
from provider_emulators._common import RunningEmulator
from pydantic import SecretStr

from orchestrator.catalog.catalog import Route
from orchestrator.generation.routing import (
    BreakerPolicy,
    BreakerState,
    RetryPolicy,
    RouteAttempt,
    RouteExecutor,
    RoutingError,
)
from orchestrator.providers.base import ProviderErrorKind, ProviderRequest
from orchestrator.providers.openai import OpenAIProvider
from orchestrator.providers.replicate import ReplicateProvider
from orchestrator.providers.stability import StabilityProvider

OpenAIEmu = RunningEmulator[openai_emu.OpenAIState]
StabilityEmu = RunningEmulator[stability_emu.StabilityState]
ReplicateEmu = RunningEmulator[replicate_emu.ReplicateState]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def no_progress(_: float) -> None:
    pass


def openai_route(
    emulator: OpenAIEmu, client: httpx.AsyncClient, deadline: float | None = None
) -> RouteAttempt:
    adapter = OpenAIProvider(client, credential=SecretStr(openai_emu.DEFAULT_API_KEY),
                             base_url=f"{emulator.base_url}/v1")  # fmt: skip
    request = ProviderRequest(
        prompt="a cat", provider_model="gpt-image-1", width=1024, height=1024, params={"quality": "low"},
        deadline=deadline or time.monotonic() + 10,
    )  # fmt: skip
    return RouteAttempt(Route(provider="openai", model="gpt-image-1"), adapter, request)


def stability_route(
    emulator: StabilityEmu, client: httpx.AsyncClient, deadline: float | None = None
) -> RouteAttempt:
    adapter = StabilityProvider(client, credential=SecretStr(stability_emu.DEFAULT_API_KEY),
                                base_url=emulator.base_url)  # fmt: skip
    request = ProviderRequest(
        prompt="a cat",
        provider_model="core",
        width=1024,
        height=1024,
        deadline=deadline or time.monotonic() + 10,
    )
    return RouteAttempt(Route(provider="stability", model="core"), adapter, request)


def replicate_route(emulator: ReplicateEmu, client: httpx.AsyncClient) -> RouteAttempt:
    adapter = ReplicateProvider(client, credential=SecretStr(replicate_emu.DEFAULT_API_KEY),
                                base_url=emulator.base_url, poll_interval=0.02)  # fmt: skip
    request = ProviderRequest(prompt="a cat", provider_model="black-forest-labs/flux-schnell", width=1024,
                              height=1024, deadline=time.monotonic() + 1.5)  # fmt: skip
    return RouteAttempt(Route(provider="replicate", model="black-forest-labs/flux-schnell"), adapter, request)


async def test_429_is_retried_after_retry_after(
    openai_emulator: OpenAIEmu, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(rate_limit=2, retry_after=1.5)
    sleeps = Sleeps()
    executor = RouteExecutor(RetryPolicy(max_attempts=3), sleep=sleeps, random=lambda: 0.01)
    outcome = await executor.execute([openai_route(openai_emulator, http_client)], no_progress)
    assert outcome.route.provider == "openai" and len(outcome.result.images) == 1
    assert sleeps.calls == [1.5, 1.5]  # the provider's Retry-After, not the (tiny) jittered backoff
    assert openai_emulator.state.count("/images/generations") == 3
    assert [(f.provider, f.code) for f in outcome.failures] == [("openai", "rate_limit_exceeded")] * 2


async def test_refusal_is_neither_retried_nor_fallen_back(
    openai_emulator: OpenAIEmu, stability_emulator: StabilityEmu, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(refuse=1)
    sleeps = Sleeps()
    executor = RouteExecutor(RetryPolicy(max_attempts=3), sleep=sleeps)
    routes = [openai_route(openai_emulator, http_client), stability_route(stability_emulator, http_client)]
    with pytest.raises(RoutingError) as info:
        await executor.execute(routes, no_progress)
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY and info.value.provider == "openai"
    assert openai_emulator.state.count("/images/generations") == 1
    assert stability_emulator.state.count("/v2beta/") == 0
    assert sleeps.calls == []


async def test_auth_failure_is_final(
    openai_emulator: OpenAIEmu, stability_emulator: StabilityEmu, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.api_key = "sk-rotated"
    executor = RouteExecutor(RetryPolicy(max_attempts=3), sleep=Sleeps())
    routes = [openai_route(openai_emulator, http_client), stability_route(stability_emulator, http_client)]
    with pytest.raises(RoutingError) as info:
        await executor.execute(routes, no_progress)
    assert info.value.kind is ProviderErrorKind.AUTH and "ORCHESTRATOR_OPENAI_API_KEY" in info.value.message
    assert openai_emulator.state.count("/images/generations") == 1
    assert stability_emulator.state.count("/v2beta/") == 0


async def test_falls_back_to_the_second_route_when_the_first_is_down(
    replicate_emulator: ReplicateEmu, stability_emulator: StabilityEmu, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.faults.update(server_errors=-1, server_error_status=503)
    sleeps = Sleeps()
    executor = RouteExecutor(RetryPolicy(max_attempts=2), sleep=sleeps, random=lambda: 0.5)
    routes = [
        replicate_route(replicate_emulator, http_client),
        stability_route(stability_emulator, http_client),
    ]
    outcome = await executor.execute(routes, no_progress)
    assert outcome.route.provider == "stability" and len(outcome.result.images) == 1
    assert replicate_emulator.state.count("/predictions", method="POST") == 2
    assert stability_emulator.state.count("/v2beta/") == 1
    assert [(f.provider, f.kind) for f in outcome.failures] == [
        ("replicate", ProviderErrorKind.RETRYABLE)
    ] * 2
    assert sleeps.calls == [0.25]  # one full-jitter backoff between the two replicate attempts


async def test_breaker_opens_after_failures_and_recovers_after_cooldown(
    openai_emulator: OpenAIEmu, stability_emulator: StabilityEmu, http_client: httpx.AsyncClient
) -> None:
    offset = 0.0

    def clock() -> float:
        return time.monotonic() + offset

    executor = RouteExecutor(
        RetryPolicy(max_attempts=1),
        BreakerPolicy(failure_threshold=3, cooldown=30),
        clock=clock,
        sleep=Sleeps(),
    )

    def routes() -> list[RouteAttempt]:
        # Deadlines live on the executor's clock (which the test moves forward).
        deadline = clock() + 10
        return [
            openai_route(openai_emulator, http_client, deadline),
            stability_route(stability_emulator, http_client, deadline),
        ]

    openai_emulator.state.faults.update(server_errors=-1)  # OpenAI is down
    for _ in range(3):
        assert (await executor.execute(routes(), no_progress)).route.provider == "stability"
    assert openai_emulator.state.count("/images/generations") == 3
    assert executor.breaker("openai").state is BreakerState.OPEN

    # Open: OpenAI is not even called; stability serves straight away.
    outcome = await executor.execute(routes(), no_progress)
    assert outcome.route.provider == "stability"
    assert [f.code for f in outcome.failures] == ["circuit_open"]
    assert openai_emulator.state.count("/images/generations") == 3

    # OpenAI recovers; after the cool-down a single probe goes through and closes the breaker.
    openai_emulator.state.faults.update(server_errors=0)
    offset += 30
    outcome = await executor.execute(routes(), no_progress)
    assert outcome.route.provider == "openai" and outcome.failures == []
    assert executor.breaker("openai").state is BreakerState.CLOSED
    assert openai_emulator.state.count("/images/generations") == 4


async def test_deadline_ends_a_hung_provider_with_timeout(
    openai_emulator: OpenAIEmu, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(hang=True)
    started = time.monotonic()
    executor = RouteExecutor(RetryPolicy(max_attempts=3, deadline_grace=0.2))
    with pytest.raises(RoutingError) as info:
        await executor.execute(
            [openai_route(openai_emulator, http_client, deadline=started + 0.4)], no_progress
        )
    assert info.value.kind is ProviderErrorKind.TIMEOUT and info.value.provider_code == "provider_timeout"
    assert 0.35 <= time.monotonic() - started < 1.5
    assert openai_emulator.state.count("/images/generations") == 1


async def test_attempt_timeout_falls_back_from_a_hung_provider(
    openai_emulator: OpenAIEmu, stability_emulator: StabilityEmu, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(hang=True)
    deadline = time.monotonic() + 5
    executor = RouteExecutor(RetryPolicy(max_attempts=1, attempt_timeout=0.3), sleep=Sleeps())
    routes = [
        openai_route(openai_emulator, http_client, deadline),
        stability_route(stability_emulator, http_client, deadline),
    ]
    started = time.monotonic()
    outcome = await executor.execute(routes, no_progress)
    assert outcome.route.provider == "stability" and time.monotonic() - started < 2
    assert [(f.provider, f.kind) for f in outcome.failures] == [("openai", ProviderErrorKind.TIMEOUT)]
