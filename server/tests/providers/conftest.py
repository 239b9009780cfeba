"""Emulator fixtures: each provider emulator runs once per session on a real loopback port.

Every test gets a fresh view: the ``*_emulator`` fixtures reset the knobs and the request log.
Other provider test modules: append fixtures below following the same pattern
(``_serve(module.create_app())`` in a session fixture, ``reset()`` in a function fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orchestrator.emulators import openai as openai_emu
from orchestrator.emulators import replicate as replicate_emu
from orchestrator.emulators import stability as stability_emu
from orchestrator.emulators._common import BackgroundServer, EmulatorState, serve_in_thread


@dataclass
class Emulator:
    """A running emulator: where it listens and its live state (knobs, request log)."""

    base_url: str
    state: Any  # the emulator's own EmulatorState subclass

    @property
    def faults(self) -> Any:
        return self.state.faults


def _serve(app: Any) -> Iterator[tuple[BackgroundServer, EmulatorState]]:
    state = app.state.emulator
    server = serve_in_thread(app, state=state)
    try:
        yield server, state
    finally:
        server.stop()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The shared pooled client adapters get in production (one per test here)."""
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[tuple[BackgroundServer, EmulatorState]]:
    yield from _serve(openai_emu.create_app())


@pytest.fixture
def openai_emulator(_openai_server: tuple[BackgroundServer, EmulatorState]) -> Emulator:
    server, state = _openai_server
    state.reset()
    state.api_key = openai_emu.DEFAULT_API_KEY
    return Emulator(server.base_url, state)


@pytest.fixture(scope="session")
def _stability_server() -> Iterator[tuple[BackgroundServer, EmulatorState]]:
    yield from _serve(stability_emu.create_app())


@pytest.fixture
def stability_emulator(_stability_server: tuple[BackgroundServer, EmulatorState]) -> Emulator:
    server, state = _stability_server
    state.reset()
    state.api_key = stability_emu.DEFAULT_API_KEY
    return Emulator(server.base_url, state)


@pytest.fixture(scope="session")
def _replicate_server() -> Iterator[tuple[BackgroundServer, EmulatorState]]:
    yield from _serve(replicate_emu.create_app())


@pytest.fixture
def replicate_emulator(_replicate_server: tuple[BackgroundServer, EmulatorState]) -> Emulator:
    server, state = _replicate_server
    state.reset()
    state.api_key = replicate_emu.DEFAULT_API_KEY
    return Emulator(server.base_url, state)
