"""Construction, configuration, lifecycle and the exported surface."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest

import freepik_ai_orchestrator
from freepik_ai_orchestrator import AsyncOrchestrationClient, OrchestrationClient, exceptions
from tests.support import MockServer, generation, resolve

CLIENTS = [OrchestrationClient, AsyncOrchestrationClient]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_BASE_URL", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_API_KEY", raising=False)


@pytest.mark.parametrize("cls", CLIENTS)
def test_no_credentials_anywhere_is_a_clear_error(cls: Any) -> None:
    with pytest.raises(exceptions.OrchestrationError, match="ORCHESTRATOR_API_KEY") as info:
        cls()
    assert "api_key" in str(info.value) and "bearer_token" in str(info.value)
    with pytest.raises(exceptions.OrchestrationError, match="no credentials"):
        cls(api_key="")


@pytest.mark.parametrize("cls", CLIENTS)
def test_defaults_and_env(cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = cls(api_key="sk-test-arg")
    assert client.base_url == "http://localhost:8000"
    assert client.timeout.read == 600 and client.timeout.connect == 10
    monkeypatch.setenv("ORCHESTRATOR_BASE_URL", "https://orch.example.com/")
    monkeypatch.setenv("ORCHESTRATOR_API_KEY", "sk-test-env")
    client = cls()
    assert client.base_url == "https://orch.example.com" and client.api_key == "sk-test-env"
    assert cls(api_key="sk-test-arg").api_key == "sk-test-arg"
    assert cls(bearer_token="jwt").api_key is None  # an explicit bearer token is not mixed with the env key


@pytest.mark.parametrize("cls", CLIENTS)
def test_seed_configuration(cls: Any) -> None:
    client = cls(
        base_url="https://your-domain.com", api_key="k", timeout=30, max_retries=3, retry_backoff=2.0
    )
    assert client.timeout.read == 30 and client.timeout.connect == 10
    assert (client.max_retries, client.retry_backoff) == (3, 2.0)
    pooled = cls(api_key="k", max_connections=10, keep_alive=True)._limits()
    assert (pooled.max_connections, pooled.max_keepalive_connections) == (10, 10)
    unpooled = cls(api_key="k", max_connections=10, keep_alive=False)._limits()
    assert unpooled.max_keepalive_connections == 0


@pytest.mark.parametrize("cls", CLIENTS)
def test_invalid_arguments(cls: Any) -> None:
    with pytest.raises(ValueError, match="not both"):
        cls(api_key="a", bearer_token="b")
    with pytest.raises(ValueError, match="base_url"):
        cls(base_url="localhost:8000")
    with pytest.raises(ValueError, match="timeout"):
        cls(timeout=-1)
    with pytest.raises(ValueError, match="retry_backoff"):
        cls(retry_backoff=float("nan"))
    with pytest.raises(TypeError, match="http_client"):
        cls(http_client=object())
    with pytest.raises(ValueError, match="api_key must be printable ASCII"):
        cls(api_key="sk-test-…")
    with pytest.raises(ValueError, match="bearer_token"):
        cls(bearer_token="jwt\n")


@pytest.mark.parametrize("cls", CLIENTS)
def test_base_url_may_include_the_api_prefix(cls: Any) -> None:
    assert cls(base_url="http://h:1/api/v1/", api_key="k").base_url == "http://h:1"


async def test_bearer_token_header(kind: str, server: MockServer, client_factory: Any) -> None:
    client = client_factory(api_key=None, bearer_token="eyJhbGciOi.jwt")
    server.json(200, generation())
    await resolve(client.get_generation("gen_1"))
    assert server.last.headers["Authorization"] == "Bearer eyJhbGciOi.jwt"


async def test_per_call_timeout(client: Any, server: MockServer) -> None:
    server.json(200, generation())
    await resolve(client.generate(prompt="p", model="m", timeout=30))
    request = server.last
    assert request.extensions["timeout"]["read"] == 30
    assert request.headers["X-Client-Timeout"] == "30"
    assert request.headers["Prefer"] == "wait=29"


def test_sync_context_manager_closes_only_its_own_pool() -> None:
    with OrchestrationClient(api_key="k") as client:
        pass
    assert client._http.is_closed
    mine = httpx.Client()
    with OrchestrationClient(api_key="k", http_client=mine):
        pass
    assert not mine.is_closed
    mine.close()


async def test_async_context_manager_closes_only_its_own_pool() -> None:
    async with AsyncOrchestrationClient(api_key="k") as client:
        pass
    assert client._http.is_closed
    mine = httpx.AsyncClient()
    async with AsyncOrchestrationClient(api_key="k", http_client=mine):
        pass
    assert not mine.is_closed
    await mine.aclose()


def test_exports_are_complete_and_sorted() -> None:
    exported = freepik_ai_orchestrator.__all__
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(freepik_ai_orchestrator, name), name
    for name in exceptions.__all__:
        if name[0].isupper():
            assert getattr(freepik_ai_orchestrator, name) is getattr(exceptions, name)


def test_exception_tree() -> None:
    e = exceptions
    for name in e.__all__:
        obj = getattr(e, name)
        if inspect.isclass(obj):
            assert issubclass(obj, e.OrchestrationError)
    assert issubclass(e.APITimeoutError, e.APIConnectionError)
    assert issubclass(e.ContentPolicyError, e.InvalidRequestError)
    assert issubclass(e.PermissionDeniedError, e.AuthenticationError)
    assert issubclass(e.ProviderTimeoutError, e.ProviderError)
    assert issubclass(e.RateLimitError, e.APIStatusError)


SEED_METHODS = [
    "generate",
    "generate_batch",
    "list_models",
    "get_model_info",
    "get_usage_stats",
    "get_generation_history",
    "close",
]
EXTRA_METHODS = [
    "submit",
    "get_generation",
    "wait_for",
    "stream_events",
    "cancel",
    "download",
    "with_options",
    "edit",
    "create_variation",
    "upscale",
    "remove_background",
    "image_to_image",
]


@pytest.mark.parametrize("name", SEED_METHODS + EXTRA_METHODS)
def test_sync_and_async_surfaces_match(name: str) -> None:
    sync_sig = inspect.signature(getattr(OrchestrationClient, name))
    async_sig = inspect.signature(getattr(AsyncOrchestrationClient, name))
    assert list(sync_sig.parameters) == list(async_sig.parameters)
    for param in sync_sig.parameters:
        assert sync_sig.parameters[param].default == async_sig.parameters[param].default
    assert list(inspect.signature(OrchestrationClient).parameters) == list(
        inspect.signature(AsyncOrchestrationClient).parameters
    )


def test_seed_parameter_names() -> None:
    params = inspect.signature(OrchestrationClient).parameters
    for name in [
        "base_url",
        "api_key",
        "bearer_token",
        "timeout",
        "max_retries",
        "retry_backoff",
        "max_connections",
        "keep_alive",
        "http_client",
    ]:
        assert name in params
    gen = inspect.signature(OrchestrationClient.generate).parameters
    for name in [
        "prompt",
        "model",
        "style",
        "size",
        "quality",
        "metadata",
        "n",
        "seed",
        "negative_prompt",
        "idempotency_key",
        "timeout",
        "wait",
    ]:
        assert name in gen
    history = inspect.signature(OrchestrationClient.get_generation_history).parameters
    assert {"limit", "filter_by_model", "status", "since", "until", "metadata", "query", "cursor"} <= set(
        history
    )
