"""Fixtures for the unit tests: every ``client`` test runs once with the sync and once with the
async client, against a scripted mock transport and a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import FakeTime, MockServer, make_client


@pytest.fixture
def server() -> MockServer:
    return MockServer()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(kind: str, server: MockServer, fake_time: FakeTime) -> Any:
    return make_client(kind, server, fake_time)


@pytest.fixture
def client_factory(kind: str, server: MockServer, fake_time: FakeTime) -> Callable[..., Any]:
    return lambda **kwargs: make_client(kind, server, fake_time, **kwargs)
