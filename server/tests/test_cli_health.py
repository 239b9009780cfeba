"""The `orchestrator` command and the health endpoints."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from support import cli_env, run_cli, wait_healthy


@pytest.mark.timeout(180)  # several `orchestrator` processes start here: slow on a busy machine
def test_cli_keys_lifecycle_and_models(tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    created = run_cli(
        [
            "keys",
            "create",
            "--name",
            "ops",
            "--mode",
            "live",
            "--project",
            "acme",
            "--scopes",
            "read",
            "--rate-limit",
            "30",
            "--max-concurrent",
            "2",
            "--monthly-budget",
            "12.5",
            "--json",
        ],
        env,
    )
    assert created["key"].startswith("sk-live-") and created["project"] == "acme"
    assert created["monthly_budget"] == 12.5 and created["rate_limit_per_minute"] == 30
    listed = run_cli(["keys", "list", "--json"], env)
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert "revoked" in run_cli(["keys", "revoke", created["id"]], env)
    assert run_cli(["keys", "list", "--json"], env)[0]["revoked_at"] is not None
    models = run_cli(["models", "--json"], env)
    assert {m["name"] for m in models} >= {"dall-e-3", "midjourney"}
    assert "database at head" in run_cli(["migrate"], env)


async def test_health_and_request_ids(server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "storage": "ok"}
        echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
        assert echoed.headers["x-request-id"] == "trace-123"
        unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
        assert unsafe.headers["x-request-id"].startswith("req_")
        missing = await client.get("/api/v1/nowhere")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"


@pytest.mark.timeout(180)  # several `orchestrator` processes start here: slow on a busy machine
def test_serve_with_two_worker_processes_shares_one_queue(tmp_path, database_url) -> None:
    from conftest import free_port

    # No Redis here: two processes must be allowed explicitly (limits are then split between them).
    env = cli_env(
        tmp_path / "data",
        database_url,
        ORCHESTRATOR_OFFLINE_LATENCY_SECONDS="0.2",
        ORCHESTRATOR_PER_PROCESS_LIMITS="true",
    )
    key = run_cli(["keys", "create", "--name", "multi", "--json"], env)["key"]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            made = [
                client.post("/api/v1/generate", json={"prompt": f"p{i}", "model": "dall-e-2"})
                for i in range(6)
            ]
            assert [r.status_code for r in made] == [200] * 6
            history = client.get("/api/v1/generations").json()["data"]
        assert {g["id"] for g in history} == {r.json()["id"] for r in made}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
