"""schemathesis against a real served app over HTTP: every operation, bounded, fixed seed.

Authenticated with a signed bearer token rather than an API key, so the stateful phase (which
creates and revokes keys) can never revoke the credential the run itself depends on.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import jwt
import pytest

SECRET = "schemathesis-secret-0123456789abcdef"
SEED = 20261202
MAX_EXAMPLES = int(os.environ.get("ORCHESTRATOR_SCHEMATHESIS_EXAMPLES", "80"))
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "content_type_conformance",
        "allow_header_conformance",
    )
)


def _st() -> str:
    beside = Path(sys.executable).parent / "st"
    found = str(beside) if beside.exists() else shutil.which("st")
    assert found, "schemathesis is not installed (make test installs it from requirements.lock)"
    return found


@pytest.mark.timeout(600)  # the run itself is capped at 540 s below
async def test_schemathesis_finds_no_server_error_or_contract_violation(start_server, tmp_path) -> None:
    server = await start_server(
        jwt_secret=SECRET,
        default_rate_limit_per_minute=1_000_000,
        sync_wait_seconds=5.0,
    )
    token = jwt.encode(
        {
            "sub": "schemathesis",
            "project": "fuzz",
            "scope": "generate read admin",
            "mode": "test",
            "exp": int(time.time()) + 3600,
        },
        SECRET,
        algorithm="HS256",
    )
    process = await asyncio.create_subprocess_exec(
        _st(),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        CHECKS,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--header",
        f"Authorization: Bearer {token}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
        cwd=tmp_path,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=540)
    text = output.decode(errors="replace")
    print(text[-6000:])  # the summary appears in the test output
    assert process.returncode == 0, text[-20000:]
