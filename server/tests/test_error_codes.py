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

from orchestrator.core.states import ERRORS, TERMINAL, ErrorCode, JobStatus
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
