"""Operators' logs: one access line per request, job lifecycle lines, one format for every logger."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from conftest import free_port
from support import cli_env, run_cli, wait_healthy


async def wait_for_records(logs, logger: str, match: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
    """The access line is written after the response is sent: wait for it to appear."""
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in logs.records(logger) if all(r.get(k) == v for k, v in match.items())]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def test_each_request_has_one_access_line_with_its_request_id(server, session_logs) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        answer = await client.get("/healthz", headers={"X-Request-ID": "trace-log-1"})
    assert answer.status_code == 200
    [line] = await wait_for_records(session_logs, "orchestrator.access", {"request_id": "trace-log-1"})
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert isinstance(line["ms"], float) and line["ms"] >= 0
    assert line["level"] == "info" and line["timestamp"].endswith("Z")
    assert line["key_id"] is None and line["generation_id"] is None


async def test_generation_request_logs_key_generation_and_job_lifecycle(server, session_logs) -> None:
    key = await server.create_key()
    async with server.client(key) as client:
        answer = await client.post(
            "/api/v1/generate",
            json={"prompt": "a logged lighthouse", "model": "dall-e-3"},
            headers={"X-Request-ID": "trace-log-2"},
        )
        assert answer.status_code == 200, answer.text
        generation_id = answer.json()["id"]
        refused = await client.get("/api/v1/generations/gen_nope", headers={"X-Request-ID": "trace-log-3"})
        assert refused.status_code == 404
    [access] = await wait_for_records(session_logs, "orchestrator.access", {"request_id": "trace-log-2"})
    assert access["status"] == 200 and access["path"] == "/api/v1/generate"
    assert access["generation_id"] == generation_id
    assert access["key_id"].startswith("key_")
    [not_found] = await wait_for_records(session_logs, "orchestrator.access", {"request_id": "trace-log-3"})
    assert not_found["status"] == 404 and not_found["key_id"] == access["key_id"]
    assert not_found["generation_id"] == "gen_nope"

    job_lines = [r for r in session_logs.records("orchestrator.jobs") if r["generation_id"] == generation_id]
    assert [r["event"] for r in job_lines] == ["job submitted", "job started", "job succeeded"]
    # Submission happens inside the request: its line carries the request id too.
    assert job_lines[0]["request_id"] == "trace-log-2" and job_lines[0]["model"] == "dall-e-3"
    assert job_lines[2]["cost_micros"] > 0
    attempts = [
        r
        for r in session_logs.records("orchestrator.generation.routing")
        if r["event"] == "provider attempt" and r.get("request_id") == "trace-log-2"
    ]
    assert attempts and attempts[0]["attempt"] == 1


async def test_a_canceled_job_is_logged(start_server, session_logs) -> None:
    server = await start_server(offline_latency_seconds=30)
    key = await server.create_key()
    async with server.client(key) as client:
        job = (
            await client.post(
                "/api/v1/generate",
                json={"prompt": "never finished", "model": "dall-e-2"},
                headers={"Prefer": "respond-async"},
            )
        ).json()
        canceled = await client.post(f"/api/v1/generations/{job['id']}/cancel")
        assert canceled.status_code == 200, canceled.text
    lines = await wait_for_records(session_logs, "orchestrator.jobs", {"generation_id": job["id"]}, 3)
    assert [r["event"] for r in lines][0] == "job submitted"
    assert "job canceled" in [r["event"] for r in lines]


@pytest.mark.timeout(180)  # several `orchestrator` processes start here: slow on a busy machine
def test_serve_writes_one_format_for_every_logger(tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url, ORCHESTRATOR_LOG_FORMAT="json")
    key = run_cli(["keys", "create", "--name", "logs", "--json"], env)["key"]
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        answer = httpx.get(
            url + "/api/v1/models",
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "trace-serve-1"},
            timeout=10,
        )
        assert answer.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = log_path.read_text().splitlines()
    # The banner (plain text, before logging starts) names the database; every later line is JSON.
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert any(line.startswith("database: ") for line in lines[:first_json])
    records = [json.loads(line) for line in lines[first_json:]]
    assert all("timestamp" in r and "level" in r for r in records)
    assert any(r["logger"].startswith("uvicorn") for r in records), "uvicorn's lines use our format"
    access = [r for r in records if r["logger"] == "orchestrator.access"]
    mine = [r for r in access if r["request_id"] == "trace-serve-1"]
    assert len(mine) == 1 and mine[0]["status"] == 200 and mine[0]["key_id"].startswith("key_")
    text = log_path.read_text()
    assert '"GET /api/v1/models HTTP/1.1"' not in text, "uvicorn's own access log is replaced"
    assert key not in text
