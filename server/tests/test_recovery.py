"""A process killed mid-job: on restart nothing is left running, and nothing is charged twice."""

from __future__ import annotations

import os
import signal
import time

import httpx
from support import cli_env, run_cli


def test_killed_process_mid_job_is_recovered(serve_process, tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    key = run_cli(["keys", "create", "--name", "crash", "--json"], env)["key"]
    headers = {"Authorization": f"Bearer {key}"}
    slow = {
        "ORCHESTRATOR_OFFLINE_LATENCY_SECONDS": "30",
        "ORCHESTRATOR_JOB_LEASE_SECONDS": "2",
        "ORCHESTRATOR_JOB_POLL_INTERVAL": "0.2",
    }
    proc, url = serve_process(**slow)
    ids = []
    for i in range(3):
        response = httpx.post(
            f"{url}/api/v1/generate",
            headers=headers | {"Prefer": "respond-async"},
            json={"prompt": f"doomed {i}", "model": "dall-e-3"},
        )
        assert response.status_code == 202
        ids.append(response.json()["id"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = {httpx.get(f"{url}/api/v1/generations/{i}", headers=headers).json()["status"] for i in ids}
        if states == {"running"}:
            break
        time.sleep(0.05)
    assert states == {"running"}
    os.kill(proc.pid, signal.SIGKILL)  # no graceful shutdown, leases left dangling
    proc.wait()

    _, url = serve_process(ORCHESTRATOR_JOB_LEASE_SECONDS="2", ORCHESTRATOR_JOB_POLL_INTERVAL="0.2")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = [httpx.get(f"{url}/api/v1/generations/{i}", headers=headers).json() for i in ids]
        if all(j["status"] in ("succeeded", "failed") for j in jobs):
            break
        time.sleep(0.2)
    assert [j["status"] for j in jobs] == ["succeeded"] * 3, jobs  # taken over and finished
    history = httpx.get(f"{url}/api/v1/generations", headers=headers).json()["data"]
    assert len(history) == 3 and not [g for g in history if g["status"] == "running"]
    assert sum(g["cost"] for g in history) == 0.12  # each charged exactly once


def test_lost_job_past_its_attempts_fails_with_clear_code(serve_process, tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    key = run_cli(["keys", "create", "--name", "crash", "--json"], env)["key"]
    headers = {"Authorization": f"Bearer {key}"}
    settings = {
        "ORCHESTRATOR_OFFLINE_LATENCY_SECONDS": "30",
        "ORCHESTRATOR_JOB_LEASE_SECONDS": "1",
        "ORCHESTRATOR_JOB_POLL_INTERVAL": "0.2",
        "ORCHESTRATOR_JOB_MAX_ATTEMPTS": "1",
    }
    proc, url = serve_process(**settings)
    job = httpx.post(
        f"{url}/api/v1/generate",
        headers=headers | {"Prefer": "respond-async"},
        json={"prompt": "doomed", "model": "dall-e-3"},
    ).json()
    while httpx.get(f"{url}/api/v1/generations/{job['id']}", headers=headers).json()["status"] != "running":
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, url = serve_process(**settings)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        final = httpx.get(f"{url}/api/v1/generations/{job['id']}", headers=headers).json()
        if final["status"] != "running":
            break
        time.sleep(0.2)
    assert final["status"] == "failed" and final["error"]["code"] == "worker_lost" and final["cost"] == 0


async def test_a_late_worker_cleans_up_only_its_own_files(server, api) -> None:
    import httpx as _httpx

    made = (await api.post("/api/v1/generate", json={"prompt": "kept", "model": "dall-e-2"})).json()
    services = server.app.state.services
    runner = services.pool.runner
    stale = await services.waiting.load(made["id"])
    stale.attempts = 7  # as if this worker had claimed an earlier attempt and then stalled
    async with _httpx.AsyncClient() as anonymous:
        png = (await anonymous.get(made["image_url"])).content
    from orchestrator.generation.lifecycle import Success
    from orchestrator.providers.base import ProviderImage

    image = await runner._store(stale, 0, ProviderImage(data=png, content_type="image/png"))
    assert services.storage.local_path(image.storage_key).exists()
    success = Success("offline", "test-render", None, None, None, 0, None, None, 0.1, [image])
    await runner._record(stale, "ghost-worker", success)  # lease long gone: refused, files deleted
    assert not services.storage.local_path(image.storage_key).exists()
    async with _httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(made["image_url"])).status_code == 200  # the real result survives
    assert (await api.get(f"/api/v1/generations/{made['id']}")).json()["status"] == "succeeded"
