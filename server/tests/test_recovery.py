"""A process killed mid-job: on restart nothing is left running, and nothing is charged twice."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from support import cli_env, run_cli, wait_until


def _statuses(url: str, headers: dict[str, str], ids: list[str]) -> list[dict]:
    return [httpx.get(f"{url}/api/v1/generations/{i}", headers=headers, timeout=30).json() for i in ids]


@pytest.mark.timeout(180)  # two `orchestrator serve` start-ups and a CLI run: slow on a busy machine
def test_killed_process_mid_job_is_recovered(serve_process, tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    key = run_cli(["keys", "create", "--name", "crash", "--json"], env)["key"]
    headers = {"Authorization": f"Bearer {key}"}
    # A short lease, so the takeover comes quickly; a third attempt to spare, because on a busy
    # machine the first process can itself miss a heartbeat and take a job over once before the
    # kill (the job must still finish, charged once: that is what this test is about).
    leases = {
        "ORCHESTRATOR_JOB_LEASE_SECONDS": "2",
        "ORCHESTRATOR_JOB_POLL_INTERVAL": "0.2",
        "ORCHESTRATOR_JOB_MAX_ATTEMPTS": "3",
    }
    slow = {"ORCHESTRATOR_OFFLINE_LATENCY_SECONDS": "30", **leases}
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
    wait_until(
        lambda: _statuses(url, headers, ids),
        lambda jobs: {j["status"] for j in jobs} == {"running"},
        what="every job running",
    )
    os.kill(proc.pid, signal.SIGKILL)  # no graceful shutdown, leases left dangling
    proc.wait()

    _, url = serve_process(**leases)
    jobs = wait_until(
        lambda: _statuses(url, headers, ids),
        lambda jobs: all(j["status"] in ("succeeded", "failed") for j in jobs),
        within=60,
        what="every job ended after the takeover",
    )
    assert [j["status"] for j in jobs] == ["succeeded"] * 3, jobs  # taken over and finished
    history = httpx.get(f"{url}/api/v1/generations", headers=headers).json()["data"]
    assert len(history) == 3 and not [g for g in history if g["status"] == "running"]
    assert sum(g["cost"] for g in history) == 0.12  # each charged exactly once


@pytest.mark.timeout(180)  # two `orchestrator serve` start-ups and a CLI run: slow on a busy machine
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
    wait_until(lambda: _statuses(url, headers, [job["id"]])[0], lambda j: j["status"] == "running")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, url = serve_process(**settings)
    final = wait_until(
        lambda: _statuses(url, headers, [job["id"]])[0],
        lambda j: j["status"] != "running",
        within=60,
        what="the lost job to end",
    )
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
    from orchestrator.generation.outcomes import Success
    from orchestrator.providers.base import ProviderImage

    image = await runner._store(stale, 0, ProviderImage(data=png, content_type="image/png"))
    assert services.storage.local_path(image.storage_key).exists()
    success = Success("offline", "test-render", None, None, None, 0, None, None, 0.1, [image])
    await runner._record(stale, "ghost-worker", success)  # lease long gone: refused, files deleted
    assert not services.storage.local_path(image.storage_key).exists()
    async with _httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(made["image_url"])).status_code == 200  # the real result survives
    assert (await api.get(f"/api/v1/generations/{made['id']}")).json()["status"] == "succeeded"
