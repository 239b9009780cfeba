"""Test helpers: a scripted mock server (httpx.MockTransport), a fake clock and sleep, and
sync/async-neutral helpers so one test body exercises both clients."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from freepik_ai_orchestrator import AsyncOrchestrationClient, OrchestrationClient

CLIENT_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = CLIENT_ROOT.parents[1]
SPEC_PATH = REPO_ROOT / "clients" / "spec" / "conformance.json"
BASE_URL = "http://orchestrator.test"
FROZEN_NOW = 1767225600.0  # 2026-01-01T00:00:00Z, the conformance file's "now"


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def generation(id: str = "gen_1", **overrides: Any) -> dict[str, Any]:
    """A complete GenerationResponse body, as the server sends it."""
    body: dict[str, Any] = {
        "id": id,
        "object": "generation",
        "status": "succeeded",
        "image_url": f"{BASE_URL}/api/v1/images/{id}.png?sig=abc",
        "thumbnail_url": f"{BASE_URL}/api/v1/images/{id}_thumb.png?sig=abc",
        "images": [
            {
                "url": f"{BASE_URL}/api/v1/images/{id}.png?sig=abc",
                "thumbnail_url": f"{BASE_URL}/api/v1/images/{id}_thumb.png?sig=abc",
                "width": 1024,
                "height": 1024,
                "content_type": "image/png",
            }
        ],
        "prompt": "A beautiful sunset over mountains",
        "model": "dall-e-3",
        "style": "photorealistic",
        "size": "1024x1024",
        "quality": "standard",
        "n": 1,
        "seed": None,
        "negative_prompt": None,
        "metadata": {},
        "provider": "offline",
        "livemode": False,
        "cost": 0.04,
        "currency": "USD",
        "price_version": "2026-11-24",
        "progress": 1.0,
        "processing_time": 0.12,
        "revised_prompt": None,
        "batch_id": None,
        "error": None,
        "created_at": "2026-01-01T00:00:00Z",
        "started_at": "2026-01-01T00:00:00.010Z",
        "finished_at": "2026-01-01T00:00:00.130Z",
    }
    body.update(overrides)
    return body


def error_body(status_type: str, code: str, message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {
        "error": {
            "type": status_type,
            "code": code,
            "message": message,
            "param": None,
            "request_id": "req_x",
            **extra,
        }
    }


Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


@dataclass
class MockServer:
    """Answers requests from a queue of scripted replies and records every request."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    fallback: Callable[[httpx.Request], httpx.Response] | None = None

    def add(self, *replies: Reply) -> MockServer:
        self.replies.extend(replies)
        return self

    def json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> MockServer:
        merged = {"X-Request-ID": f"req_{len(self.replies) + 1}", **(headers or {})}
        return self.add(httpx.Response(status, json=body, headers=merged))

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            if self.fallback is not None:
                return self.fallback(request)
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@dataclass
class FakeTime:
    """Records sleeps instead of sleeping; advances the clocks by what was slept."""

    now: float = FROZEN_NOW
    monotonic: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.monotonic += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make_client(kind: str, server: MockServer, fake: FakeTime, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", "sk-test-unit")
    kwargs.setdefault("base_url", BASE_URL)
    transport = httpx.MockTransport(server.handler)
    client: Any
    if kind == "sync":
        client = OrchestrationClient(http_client=httpx.Client(transport=transport), **kwargs)
        client._sleep = fake.sleep
    else:
        client = AsyncOrchestrationClient(http_client=httpx.AsyncClient(transport=transport), **kwargs)
        client._sleep = fake.async_sleep
    client._clock = lambda: fake.now
    client._monotonic = lambda: fake.monotonic
    client._random = lambda: 0.0  # no jitter: delays are exact in assertions
    return client


async def resolve(value: Any) -> Any:
    """Await the result of an async client's method; pass a sync client's through."""
    if inspect.isawaitable(value):
        return await value
    return value


async def collect(iterable: Any) -> list[Any]:
    """Drain a sync or async iterator."""
    if hasattr(iterable, "__aiter__"):
        return [item async for item in iterable]
    assert isinstance(iterable, Iterable)
    return list(iterable)
