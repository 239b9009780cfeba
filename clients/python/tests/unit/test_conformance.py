"""Runs the shared, language-neutral cases in clients/spec/conformance.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import _retry, exceptions
from freepik_ai_orchestrator._retry import backoff_delay, decide, parse_retry_after
from tests.support import MockServer, collect, load_spec, resolve

SPEC = load_spec()


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [str(case.get("name", i)) for i, case in enumerate(cases)]


def test_defaults_match_the_implementation() -> None:
    defaults = SPEC["defaults"]
    assert defaults["max_retries"] == _retry.DEFAULT_MAX_RETRIES
    assert defaults["retry_backoff"] == _retry.DEFAULT_RETRY_BACKOFF
    assert defaults["max_backoff"] == _retry.MAX_BACKOFF
    assert defaults["max_retry_after"] == _retry.MAX_RETRY_AFTER
    assert defaults["jitter"] == _retry.JITTER


@pytest.mark.parametrize("case", SPEC["retry_after"]["cases"], ids=_ids(SPEC["retry_after"]["cases"]))
def test_retry_after_parsing(case: dict[str, Any]) -> None:
    got = parse_retry_after(case["headers"], _ts(SPEC["retry_after"]["now"]))
    if case["expected"] is None:
        assert got is None
    else:
        assert got == pytest.approx(case["expected"], abs=1e-9)


@pytest.mark.parametrize("case", SPEC["backoff"]["cases"])
def test_backoff(case: dict[str, Any]) -> None:
    got = backoff_delay(case["retries_so_far"], case["retry_backoff"], case["random"])
    assert got == pytest.approx(case["expected"], abs=1e-9)


@pytest.mark.parametrize("case", SPEC["retry_decisions"]["cases"], ids=_ids(SPEC["retry_decisions"]["cases"]))
def test_retry_decision(case: dict[str, Any]) -> None:
    decision = decide(
        retries_so_far=case["retries_so_far"],
        max_retries=case["max_retries"],
        retry_backoff=case["retry_backoff"],
        status=case["status"],
        headers=case["headers"],
        now=_ts(SPEC["retry_decisions"]["now"]),
        random_value=case["random"],
        body=case.get("body"),
    )
    expected = case["expected"]
    assert decision.retry is expected["retry"]
    if expected["retry"]:
        assert decision.delay == pytest.approx(expected["delay"], abs=1e-9)
    if expected.get("retry_after") is None:
        assert decision.retry_after is None
    else:
        assert decision.retry_after == pytest.approx(expected["retry_after"], abs=1e-9)


@pytest.mark.parametrize("case", SPEC["error_mapping"]["cases"], ids=_ids(SPEC["error_mapping"]["cases"]))
def test_error_mapping_pure(case: dict[str, Any]) -> None:
    """The mapping function alone (also covers status-less batch and job errors)."""
    headers = case["headers"]
    text = case["body"] if isinstance(case["body"], str) else None
    exc = exceptions.exception_for_error(
        case["status"],
        case["body"],
        headers,
        retry_after=parse_retry_after(headers, _ts(SPEC["error_mapping"]["now"])),
        text=text,
    )
    _check_exception(exc, case)


def _check_exception(exc: Exception, case: dict[str, Any]) -> None:
    assert type(exc).__name__ == case["expected"]
    assert isinstance(exc, exceptions.OrchestrationError)
    for name, value in case["fields"].items():
        got = getattr(exc, name)
        if isinstance(value, float):
            assert got == pytest.approx(value)
        else:
            assert got == value, name


HTTP_ERROR_CASES = [c for c in SPEC["error_mapping"]["cases"] if c["status"] is not None]


@pytest.mark.parametrize("case", HTTP_ERROR_CASES, ids=_ids(HTTP_ERROR_CASES))
async def test_error_mapping_through_the_client(
    case: dict[str, Any], client_factory: Any, server: MockServer, fake_time: Any
) -> None:
    """Every status in the table, raised by both clients from a real HTTP exchange."""
    fake_time.now = _ts(SPEC["error_mapping"]["now"])
    client = client_factory(max_retries=0)
    body = case["body"]
    if body is None:
        response = httpx.Response(case["status"], headers=case["headers"])
    elif isinstance(body, str):
        response = httpx.Response(case["status"], text=body, headers=case["headers"])
    else:
        response = httpx.Response(case["status"], json=body, headers=case["headers"])
    server.add(response)
    with pytest.raises(exceptions.OrchestrationError) as info:
        await resolve(client.get_generation("gen_1"))
    _check_exception(info.value, case)
    assert info.value.status_code == case["status"]


@pytest.mark.parametrize("case", SPEC["pagination"]["cases"], ids=_ids(SPEC["pagination"]["cases"]))
async def test_pagination(case: dict[str, Any], client: Any, server: MockServer) -> None:
    for page in case["pages"]:
        server.json(200, page["response"])
    query = dict(case["query"])
    metadata = {k.removeprefix("metadata."): v for k, v in query.items() if k.startswith("metadata.")}
    first = await resolve(
        client.get_generation_history(
            limit=int(query["limit"]) if "limit" in query else None,
            filter_by_model=query.get("model"),
            status=query.get("status"),
            metadata=metadata or None,
        )
    )
    assert len(first) == case["expected_first_page_len"]
    items = await collect(first)
    assert [g.id for g in items] == case["expected_ids"]
    assert len(server.requests) == len(case["pages"])
    for request, page in zip(server.requests, case["pages"], strict=True):
        assert request.url.path == "/api/v1/generations"
        assert dict(request.url.params) == page["expect_query"]
