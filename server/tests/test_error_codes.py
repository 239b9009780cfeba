"""The server's error-code table against the clients' shared conformance cases.

The TS, PHP, Ruby and Python clients map errors by the cases in clients/spec/conformance.json; a
code the server sends with another status or type than those cases say would be mis-mapped.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.api.middleware import RequestContextMiddleware
from orchestrator.core.states import TERMINAL, JobStatus
from orchestrator.errors import ERRORS, APIError, ErrorCode, InvalidRequest
from orchestrator.generation.outcome import failure_error

SPEC = Path(__file__).resolve().parents[2] / "clients" / "spec" / "conformance.json"

# Codes the cases use to prove a client copes with what this server does not send (a proxy's
# error, a future code): they must stay out of the server's table, or get a case of their own.
CLIENT_ONLY_CODES = {"bad_gateway", "no_provider_available", "something_new"}


def _cases() -> list[dict[str, Any]]:
    cases = json.loads(SPEC.read_text())["error_mapping"]["cases"]
    return [c for c in cases if isinstance(c.get("body"), dict) and isinstance(c["body"].get("error"), dict)]


def _id(case: dict[str, Any]) -> str:
    return str(case["name"])


def test_every_code_in_the_cases_is_known_to_the_server_or_declared_client_only() -> None:
    codes = {c["body"]["error"].get("code") for c in _cases()} - {None}
    unknown = codes - {code.value for code in ErrorCode} - CLIENT_ONLY_CODES
    assert not unknown, f"conformance cases use codes the server's table lacks: {sorted(unknown)}"
    assert not CLIENT_ONLY_CODES & {code.value for code in ErrorCode}


@pytest.mark.parametrize("case", [c for c in _cases() if c["status"] is not None], ids=_id)
def test_http_cases_match_the_servers_status_and_type(case: dict[str, Any]) -> None:
    error = case["body"]["error"]
    if error.get("code") in CLIENT_ONLY_CODES:
        pytest.skip("a code this server never sends")
    spec = ERRORS[ErrorCode(error["code"])]
    assert case["status"] in spec.statuses
    if error.get("type") is not None:
        assert error["type"] == spec.type


@pytest.mark.parametrize("case", [c for c in _cases() if c["status"] is None], ids=_id)
def test_failed_job_cases_match_how_the_server_answers_that_job(case: dict[str, Any]) -> None:
    """Status-less cases are a failed job or batch item "as the synchronous endpoint would answer"."""
    error = case["body"]["error"]
    code = error["code"]
    if code in CLIENT_ONLY_CODES:
        pytest.skip("a code this server never sends")
    if ErrorCode(code) is ErrorCode.GENERATION_CANCELED:
        job = SimpleNamespace(id="gen_1", status=JobStatus.CANCELED, error_code="canceled", error_message="x")
    else:
        job = SimpleNamespace(id="gen_1", status=JobStatus.FAILED, error_code=code, error_message="x")
    answered = failure_error(job)  # type: ignore[arg-type]
    assert answered.code == code
    assert answered.status_code in ERRORS[ErrorCode(code)].statuses
    if error.get("type") is not None:
        assert answered.type == error["type"]


def test_terminal_states_are_one_set() -> None:
    assert {JobStatus(s) for s in TERMINAL} == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}
    assert all(JobStatus(s).terminal for s in TERMINAL) and not JobStatus.RUNNING.terminal


def test_the_conformance_file_lists_every_code_of_the_servers_table() -> None:
    """The SDKs learn every code from clients/spec/conformance.json; regenerate its
    ``error_codes`` section from the table when this fails."""
    listed = json.loads(SPEC.read_text())["error_codes"]["codes"]
    table = {
        code.value: {
            "status": spec.status,
            "also": sorted(spec.also),
            "type": spec.type.value,
            "retryable": spec.retryable,
            "meaning": spec.meaning,
        }
        for code, spec in ERRORS.items()
    }
    assert listed == table


def test_the_openapi_document_publishes_every_code_with_its_status() -> None:
    document = json.loads((SPEC.parents[2] / "openapi.json").read_text())
    code = document["components"]["schemas"]["ErrorBody"]["properties"]["code"]
    enum = set(code.get("enum") or document["components"]["schemas"]["ErrorCode"]["enum"])
    assert enum == {c.value for c in ErrorCode}
    for member, spec in ERRORS.items():
        assert f"`{member.value}` ({'/'.join(str(s) for s in sorted(spec.statuses))}," in code["description"]


def test_an_error_takes_its_status_and_type_from_the_table() -> None:
    error = InvalidRequest("x", code=ErrorCode.GENERATION_FINISHED)
    assert (error.status_code, error.type) == (409, "invalid_request_error")
    with pytest.raises(ValueError, match="never answered with 418"):
        APIError("x", code=ErrorCode.NOT_FOUND, status_code=418)


async def test_the_413_body_comes_from_the_table() -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never reached: the body is too big
        await receive()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x" * 100, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    middleware = RequestContextMiddleware(app, max_body_bytes=10)
    scope = {"type": "http", "method": "POST", "path": "/api/v1/generate", "headers": [], "query_string": b""}
    await middleware(scope, receive, send)
    spec = ERRORS[ErrorCode.PAYLOAD_TOO_LARGE]
    assert sent[0]["status"] == spec.status == 413
    body = json.loads(sent[1]["body"])["error"]
    assert (body["code"], body["type"]) == ("payload_too_large", spec.type.value)
