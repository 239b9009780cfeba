"""The shared behaviour table (``defaults``, ``errors``, ``downloads`` in clients/spec/conformance.json),
checked against this SDK. The other three SDKs run the same table."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import httpx
import pytest

import freepik_ai_orchestrator
from freepik_ai_orchestrator import (
    DEFAULT_TIMEOUT,
    AsyncOrchestrationClient,
    GenerationResponse,
    OrchestrationClient,
    exceptions,
    verify_webhook,
)
from freepik_ai_orchestrator._base_client import DEFAULT_BASE_URL, DEFAULT_WAIT_TIMEOUT
from tests.support import BASE_URL, MockServer, generation, resolve

SPEC = importlib.import_module("tests.support").load_spec()
DEFAULTS = SPEC["defaults"]
ERRORS = SPEC["errors"]
DOWNLOADS = SPEC["downloads"]


def _python_class(name: str) -> type[BaseException]:
    entry = next(c for c in ERRORS["classes"] if c["name"] == name)
    cls = getattr(freepik_ai_orchestrator, entry["python"])
    assert isinstance(cls, type) and issubclass(cls, BaseException)
    return cls


def test_default_timeouts_and_environment() -> None:
    assert DEFAULT_TIMEOUT.read == DEFAULTS["timeout"]
    assert DEFAULT_TIMEOUT.connect == DEFAULTS["connect_timeout"]
    assert DEFAULTS["wait_timeout"] == DEFAULT_WAIT_TIMEOUT
    assert DEFAULTS["base_url"] == DEFAULT_BASE_URL
    client = OrchestrationClient(api_key="sk-test-x")
    assert (client.timeout.read, client.max_retries, client.retry_backoff) == (
        DEFAULTS["timeout"],
        DEFAULTS["max_retries"],
        DEFAULTS["retry_backoff"],
    )


def test_environment_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULTS["environment"]["base_url"], "http://env.example:9")
    monkeypatch.setenv(DEFAULTS["environment"]["api_key"], "sk-test-env")
    client = OrchestrationClient()
    assert client.base_url == "http://env.example:9" and client.api_key == "sk-test-env"


def test_the_base_error_class_and_the_tree() -> None:
    assert ERRORS["base"]["python"] == "freepik_ai_orchestrator.OrchestrationError"
    base = _python_class("OrchestrationError")
    assert base is exceptions.OrchestrationError
    for entry in ERRORS["classes"]:
        cls = _python_class(entry["name"])
        if entry["parent"] is not None:
            assert _python_class(entry["parent"]) in cls.__mro__[1:], entry["name"]
            assert issubclass(cls, base)
    # Every error class the package exports is in the table, so a new one cannot skip the others.
    exported = {
        name
        for name in freepik_ai_orchestrator.__all__
        if isinstance(getattr(freepik_ai_orchestrator, name), type)
        and issubclass(getattr(freepik_ai_orchestrator, name), BaseException)
    }
    assert exported == {c["python"] for c in ERRORS["classes"]}


def _failure(name: str) -> dict[str, Any]:
    return next(f for f in ERRORS["failures"] if f["name"] == name)


@pytest.mark.parametrize("cls", [OrchestrationClient, AsyncOrchestrationClient])
def test_missing_key(cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _failure("missing key")
    monkeypatch.delenv(DEFAULTS["environment"]["api_key"], raising=False)
    with pytest.raises(BaseException) as info:
        cls(base_url=BASE_URL)
    assert type(info.value) is _python_class(case["raises"])
    assert info.value.code == case["code"]  # type: ignore[attr-defined]
    for word in case["message_contains"]:
        assert word in str(info.value)
    monkeypatch.setenv(DEFAULTS["environment"]["api_key"], "")
    with pytest.raises(exceptions.OrchestrationError):
        cls(base_url=BASE_URL)


async def test_connection_refused(kind: str, server: MockServer) -> None:
    case = _failure("connection refused")
    server.fallback = None
    server.add(*[httpx.ConnectError("refused") for _ in range(3)])
    transport = httpx.MockTransport(server.handler)
    client: Any
    if kind == "sync":
        client = OrchestrationClient(BASE_URL, "sk-test-x", http_client=httpx.Client(transport=transport))
        client._sleep = lambda _s: None
    else:
        client = AsyncOrchestrationClient(
            BASE_URL, "sk-test-x", http_client=httpx.AsyncClient(transport=transport)
        )

        async def no_sleep(_s: float) -> None:
            return None

        client._sleep = no_sleep
    with pytest.raises(BaseException) as info:
        await resolve(client.list_models())
    assert type(info.value) is _python_class(case["raises"])
    assert len(server.requests) == 1 + DEFAULTS["max_retries"]


def test_webhook_signature_failure() -> None:
    case = _failure("webhook signature")
    with pytest.raises(BaseException) as info:
        verify_webhook(b"{}", {}, "whsec_" + "A" * 32)
    assert type(info.value) is _python_class(case["raises"])


# ------------------------------------------------------------------------------------ downloads


def _case_source(case: dict[str, Any]) -> Any:
    if case["source"] == "url":
        return case["url"]
    body = generation(
        case["generation_id"],
        images=case["images"],
        image_url=case["images"][0]["url"],
        thumbnail_url=case["images"][0]["thumbnail_url"],
    )
    result = GenerationResponse.model_validate(body)
    if case["source"] == "generation":
        return result
    index = int(case["source"].removeprefix("image "))
    return result.images[index]


@pytest.mark.parametrize("case", DOWNLOADS["cases"], ids=[c["name"] for c in DOWNLOADS["cases"]])
async def test_download_rules(case: dict[str, Any], client: Any, server: MockServer, tmp_path: Path) -> None:
    folder = tmp_path / "images"  # missing: download() creates it
    served = case.get("served_content_type")

    def serve(request: httpx.Request) -> httpx.Response:
        kind = served or ("image/webp" if request.url.path.endswith(".webp") else "image/png")
        return httpx.Response(
            200, content=b"new:" + request.url.path.encode(), headers={"Content-Type": kind}
        )

    server.fallback = serve
    for name in case.get("existing", []):
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"mine")

    def call() -> Any:
        return client.download(
            _case_source(case),
            folder,
            thumbnail=case.get("thumbnail", False),
            overwrite=case.get("overwrite", False),
        )

    if "error" in case:
        with pytest.raises(BaseException) as info:
            await resolve(call())
        assert type(info.value) is _python_class(case["error"])
        assert info.value.code == "file_exists"  # type: ignore[attr-defined]
        assert case["error_names"] in str(info.value)
        assert len(server.requests) == case["fetches"]
        assert sorted(p.name for p in folder.iterdir()) == sorted(case["existing"])
        assert all((folder / name).read_bytes() == b"mine" for name in case["existing"])
        return
    paths = await resolve(call())
    assert [p.relative_to(folder).as_posix() for p in paths] == case["expected"]
    assert all(p.read_bytes().startswith(b"new:") for p in paths)
    assert sorted(p.name for p in folder.iterdir()) == sorted(case["expected"])  # no partial files


async def test_the_same_download_twice_refuses_the_second(
    client: Any, server: MockServer, tmp_path: Path
) -> None:
    """Why quick starts save into a folder: a fixed file name cannot be written twice."""
    server.fallback = lambda request: httpx.Response(200, content=b"x", headers={"Content-Type": "image/png"})
    result = GenerationResponse.model_validate(generation("gen_twice"))
    await resolve(client.download(result, tmp_path / "sunset.png"))
    with pytest.raises(FileExistsError):
        await resolve(client.download(result, tmp_path / "sunset.png"))
