"""Emulator fixtures: each provider emulator runs once per session on a real loopback port.

The function-scoped ``*_emulator`` fixtures hand every test a healthy emulator: knobs reset,
request log cleared, default key. Other provider test modules may append fixtures below
following the same pattern (a session fixture calling ``start_emulator``, a function fixture
calling ``state.reset()``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from provider_emulators import fal as fal_emu
from provider_emulators import freepik as freepik_emu
from provider_emulators import midjourney as midjourney_emu
from provider_emulators import openai as openai_emu
from provider_emulators import replicate as replicate_emu
from provider_emulators import stability as stability_emu
from provider_emulators._common import RunningEmulator, start_emulator

Emulator = RunningEmulator[Any]
"""Any running emulator (``.base_url``, ``.state``); test modules may narrow the state type."""


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The shared pooled client adapters get in production (one per test here)."""
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[RunningEmulator[openai_emu.OpenAIState]]:
    state = openai_emu.OpenAIState(api_key=openai_emu.DEFAULT_API_KEY)
    with start_emulator(openai_emu.create_app(state), state) as running:
        yield running


@pytest.fixture
def openai_emulator(
    _openai_server: RunningEmulator[openai_emu.OpenAIState],
) -> RunningEmulator[openai_emu.OpenAIState]:
    _openai_server.state.reset()
    _openai_server.state.api_key = openai_emu.DEFAULT_API_KEY
    return _openai_server


@pytest.fixture(scope="session")
def _stability_server() -> Iterator[RunningEmulator[stability_emu.StabilityState]]:
    state = stability_emu.StabilityState(api_key=stability_emu.DEFAULT_API_KEY)
    with start_emulator(stability_emu.create_app(state), state) as running:
        yield running


@pytest.fixture
def stability_emulator(
    _stability_server: RunningEmulator[stability_emu.StabilityState],
) -> RunningEmulator[stability_emu.StabilityState]:
    _stability_server.state.reset()
    _stability_server.state.api_key = stability_emu.DEFAULT_API_KEY
    return _stability_server


@pytest.fixture(scope="session")
def _replicate_server() -> Iterator[RunningEmulator[replicate_emu.ReplicateState]]:
    state = replicate_emu.ReplicateState(api_key=replicate_emu.DEFAULT_API_KEY)
    with start_emulator(replicate_emu.create_app(state), state) as running:
        yield running


@pytest.fixture
def replicate_emulator(
    _replicate_server: RunningEmulator[replicate_emu.ReplicateState],
) -> RunningEmulator[replicate_emu.ReplicateState]:
    _replicate_server.state.reset()
    _replicate_server.state.api_key = replicate_emu.DEFAULT_API_KEY
    # Fast predictions: tests that care about the lifecycle set their own timings.
    _replicate_server.state.start_seconds, _replicate_server.state.run_seconds = 0.02, 0.08
    return _replicate_server


# --- fal, Freepik, Midjourney proxy ----------------------------------------------------------------


@pytest.fixture(scope="session")
def _fal_server() -> Iterator[RunningEmulator[fal_emu.FalState]]:
    state = fal_emu.FalState(api_key=fal_emu.DEFAULT_API_KEY)
    with start_emulator(fal_emu.create_app(state), state) as running:
        yield running


@pytest.fixture
def fal_emulator(_fal_server: RunningEmulator[fal_emu.FalState]) -> RunningEmulator[fal_emu.FalState]:
    _fal_server.state.reset()
    _fal_server.state.api_key = fal_emu.DEFAULT_API_KEY
    return _fal_server


@pytest.fixture(scope="session")
def _freepik_server() -> Iterator[RunningEmulator[freepik_emu.FreepikState]]:
    state = freepik_emu.FreepikState(api_key=freepik_emu.DEFAULT_API_KEY)
    with start_emulator(freepik_emu.create_app(state), state) as running:
        yield running


@pytest.fixture
def freepik_emulator(
    _freepik_server: RunningEmulator[freepik_emu.FreepikState],
) -> RunningEmulator[freepik_emu.FreepikState]:
    _freepik_server.state.reset()
    _freepik_server.state.api_key = freepik_emu.DEFAULT_API_KEY
    return _freepik_server


@pytest.fixture(scope="session")
def _midjourney_server() -> Iterator[RunningEmulator[midjourney_emu.MidjourneyState]]:
    state = midjourney_emu.MidjourneyState(api_key=midjourney_emu.DEFAULT_API_KEY)
    with start_emulator(midjourney_emu.create_app(state), state) as running:
        yield running


@pytest.fixture
def midjourney_emulator(
    _midjourney_server: RunningEmulator[midjourney_emu.MidjourneyState],
) -> RunningEmulator[midjourney_emu.MidjourneyState]:
    _midjourney_server.state.reset()
    _midjourney_server.state.api_key = midjourney_emu.DEFAULT_API_KEY
    return _midjourney_server
