"""``with_options``, ``with_raw_response``, per-call options and retry logging."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import (
    APIResponse,
    GenerationResponse,
    InternalServerError,
    ModelInfo,
    NotFoundError,
)
from tests.support import MockServer, collect, error_body, generation, resolve

MODEL = {"name": "dall-e-3", "description": "d"}


def _unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json=error_body("internal_error", "unavailable"))


# ------------------------------------------------------------------------------ with_options


async def test_with_options_copies_and_shares_the_pool(
    kind: str, client_factory: Callable[..., Any], server: MockServer
) -> None:
    client = client_factory(default_headers={"X-Team": "a"})
    copy = client.with_options(timeout=5, max_retries=0, default_headers={"X-Tenant": "t"})
    assert copy is not client and copy._http is client._http
    assert (copy.max_retries, copy.timeout.read) == (0, 5) and copy.api_key == client.api_key
    assert (client.max_retries, client.timeout.read) == (2, 600)  # the original is untouched
    server.fallback = _unavailable
    with pytest.raises(InternalServerError):
        await resolve(copy.list_models())
    assert len(server.requests) == 1  # max_retries=0
    sent = server.last.headers
    assert sent["X-Team"] == "a" and sent["X-Tenant"] == "t" and sent["X-Client-Timeout"] == "5"
    await resolve(copy.close())  # a copy does not own the pool
    assert not client._http.is_closed


async def test_with_options_replaces_credentials(
    client_factory: Callable[..., Any], server: MockServer
) -> None:
    client = client_factory()
    jwt = client.with_options(bearer_token="eyJ.jwt")
    assert (jwt.api_key, jwt.bearer_token) == (None, "eyJ.jwt")
    back = jwt.with_options(api_key="sk-test-other", base_url="http://other.test/api/v1")
    assert (back.api_key, back.bearer_token, back.base_url) == ("sk-test-other", None, "http://other.test")
    server.json(200, generation())
    await resolve(jwt.get_generation("gen_1"))
    assert server.last.headers["Authorization"] == "Bearer eyJ.jwt"
    with pytest.raises(ValueError, match="not both"):
        client.with_options(api_key="a", bearer_token="b")
    with pytest.raises(ValueError, match="max_retries"):
        client.with_options(max_retries=-1)


def test_closing_the_original_closes_the_shared_pool() -> None:
    from freepik_ai_orchestrator import OrchestrationClient

    client = OrchestrationClient(api_key="sk-test-x")
    copy = client.with_options(timeout=3)
    client.close()
    assert copy._http.is_closed


# ------------------------------------------------------------------------------ raw responses


async def test_raw_response_of_generate(client: Any, server: MockServer) -> None:
    server.json(200, generation(), headers={"X-Request-ID": "req_raw", "X-RateLimit-Remaining": "9"})
    raw = await resolve(client.with_raw_response.generate(prompt="p", model="dall-e-3"))
    assert isinstance(raw, APIResponse)
    assert raw.status_code == 200 and raw.request_id == "req_raw"
    assert raw.headers["x-ratelimit-remaining"] == "9"
    assert raw.method == "POST" and raw.url.path == "/api/v1/generate" and raw.retries_taken == 0
    parsed = raw.parse()
    assert isinstance(parsed, GenerationResponse) and parsed.id == "gen_1" and parsed is raw.parse()
    assert parsed._request_id == "req_raw"


async def test_raw_response_of_a_waited_job_is_the_post(client: Any, server: MockServer) -> None:
    server.add(_unavailable)
    server.json(202, generation(status="queued"), headers={"X-Request-ID": "req_post"})
    server.json(200, generation(status="succeeded"), headers={"X-Request-ID": "req_poll"})
    raw = await resolve(client.with_raw_response.generate(prompt="p", model="dall-e-3"))
    assert raw.status_code == 202 and raw.request_id == "req_post" and raw.retries_taken == 1
    assert raw.parse().status == "succeeded"


async def test_raw_response_of_other_methods(client: Any, server: MockServer, tmp_path: Path) -> None:
    server.json(200, {"object": "list", "data": [MODEL]})
    raw = await resolve(client.with_raw_response.list_models(timeout=5))
    assert raw.status_code == 200 and [m.name for m in raw.parse()] == ["dall-e-3"]
    assert isinstance(raw.parse()[0], ModelInfo)
    server.json(200, {"object": "list", "data": [generation()], "has_more": False, "next_cursor": None})
    page = (await resolve(client.with_raw_response.get_generation_history(limit=1))).parse()
    assert [g.id for g in page.data] == ["gen_1"]
    server.add(httpx.Response(200, content=b"png", headers={"Content-Type": "image/png"}))
    raw = await resolve(client.with_raw_response.download("https://cdn.example/a.png", tmp_path))
    assert raw.headers["content-type"] == "image/png" and raw.parse() == [tmp_path / "a.png"]


async def test_raw_response_errors_raise_as_usual(client: Any, server: MockServer) -> None:
    server.json(404, error_body("not_found", "not_found"))
    with pytest.raises(NotFoundError):
        await resolve(client.with_raw_response.get_generation("gen_x"))


# ------------------------------------------------------------------------------ per-call options


async def test_per_call_max_retries(client: Any, server: MockServer) -> None:
    server.fallback = _unavailable
    with pytest.raises(InternalServerError):
        await resolve(client.get_generation("gen_1", max_retries=0))
    assert len(server.requests) == 1
    server.requests.clear()
    with pytest.raises(InternalServerError):
        await resolve(client.get_generation("gen_1", max_retries=4))
    assert [r.headers["X-Request-Attempt"] for r in server.requests] == ["1", "2", "3", "4", "5"]
    with pytest.raises(ValueError, match="max_retries"):
        await resolve(client.get_generation("gen_1", max_retries=-1))


async def test_extra_headers_query_and_body(client: Any, server: MockServer) -> None:
    server.json(202, generation(status="queued"))
    server.json(200, generation())
    await resolve(
        client.generate(
            prompt="p",
            model="dall-e-3",
            extra_headers={"X-Trace": "abc", "User-Agent": "mine/1"},
            extra_query={"debug": True},
            extra_body={"provider_hint": "openai", "prompt": "overridden"},
        )
    )
    post, poll = server.requests
    assert post.headers["X-Trace"] == "abc" and post.headers["User-Agent"] == "mine/1"
    assert post.url.params["debug"] == "true"
    assert json.loads(post.content) == {
        "prompt": "overridden",
        "model": "dall-e-3",
        "provider_hint": "openai",
    }
    # Headers and query go with every request of the call; the body only with the POST.
    assert poll.method == "GET" and poll.headers["X-Trace"] == "abc" and poll.url.params["debug"] == "true"
    assert poll.content == b""


async def test_extra_body_on_cancel_and_refused_on_gets(client: Any, server: MockServer) -> None:
    server.json(200, generation(status="canceled"))
    await resolve(client.cancel("gen_1", extra_body={"reason": "user"}))
    assert json.loads(server.last.content) == {"reason": "user"}
    with pytest.raises(ValueError, match="extra_body"):
        await resolve(client.list_models(extra_body={"x": 1}))
    with pytest.raises(ValueError, match="extra_body"):
        await collect(client.stream_events("gen_1", extra_body={"x": 1}))


@pytest.mark.parametrize(
    "method",
    [
        "generate",
        "submit",
        "get_generation",
        "wait_for",
        "stream_events",
        "cancel",
        "generate_batch",
        "get_generation_history",
        "list_models",
        "get_model_info",
        "get_usage_stats",
        "download",
    ],
)
def test_every_method_takes_the_per_call_options(kind: str, client: Any, method: str) -> None:
    import inspect

    params = inspect.signature(getattr(client, method)).parameters
    for name in ("timeout", "max_retries", "extra_headers", "extra_query", "extra_body"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (method, name)
    if method != "stream_events":
        assert hasattr(client.with_raw_response, method)


# ------------------------------------------------------------------------------ logging


async def test_retries_are_logged_without_secrets(
    client: Any, server: MockServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    server.add(_unavailable)
    server.add(httpx.Response(500))
    server.json(200, generation())
    with caplog.at_level(logging.INFO, logger="freepik_ai_orchestrator"):
        await resolve(client.generate(prompt="p", model="dall-e-3"))
    messages = [r.getMessage() for r in caplog.records if r.name == "freepik_ai_orchestrator"]
    assert messages == [
        "Retrying POST /api/v1/generate in 0.5 s (attempt 2 of 3): 503 Service Unavailable (unavailable)",
        "Retrying POST /api/v1/generate in 1.0 s (attempt 3 of 3): 500 Internal Server Error",
    ]
    # A retried download of a signed URL: the signature stays out of the log too.
    caplog.clear()
    server.add(httpx.ConnectError("refused"))
    server.add(httpx.Response(200, content=b"png", headers={"Content-Type": "image/png"}))
    with caplog.at_level(logging.DEBUG, logger="freepik_ai_orchestrator"):
        await resolve(client.download("http://orchestrator.test/api/v1/images/a.png?sig=SECRET", tmp_path))
    assert caplog.messages == ["Retrying GET /api/v1/images/a.png in 0.5 s (attempt 2 of 3): ConnectError"]
    everything = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "sk-test-unit" not in everything and "SECRET" not in everything
