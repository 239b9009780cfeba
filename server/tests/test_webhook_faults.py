"""Fault injection: hostile receivers in one project cannot delay another project's webhooks,
cannot grow the server's memory, always end recorded, and a restart changes nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from hostile_receivers import HUGE_BYTES, hostile_receiver
from support import cli_env, run_cli
from webhook_receiver import webhook_receiver
from webhook_rows import insert_endpoint

SERVER_ENV = {
    "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receivers are on loopback
    "ORCHESTRATOR_WEBHOOK_TIMEOUT_SECONDS": "2",
    "ORCHESTRATOR_WEBHOOK_MAX_ATTEMPTS": "2",
    "ORCHESTRATOR_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "ORCHESTRATOR_JOB_POLL_INTERVAL": "0.2",
}
GEN = {"prompt": "a lighthouse", "model": "dall-e-3"}
FINAL = ("delivered", "dead", "canceled")


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


async def _deliveries(api: httpx.AsyncClient, endpoint_id: str) -> list[dict]:
    response = await api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _wait_final(api: httpx.AsyncClient, endpoint_ids: list[str], count: int, within: float) -> dict:
    deadline = time.monotonic() + within
    while True:
        states = {e: await _deliveries(api, e) for e in endpoint_ids}
        if all(len(d) >= count and all(x["status"] in FINAL for x in d) for d in states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries not final after {within} s: {states}")
        await asyncio.sleep(0.2)


@pytest.mark.timeout(240)  # two `orchestrator serve` processes, and up to 90 s for the deliveries to settle
async def test_hostile_receivers_never_delay_other_projects_grow_memory_or_survive_a_restart(
    serve_process, tmp_path, database_url
) -> None:
    env = cli_env(tmp_path / "data", database_url)
    scopes = ["--scopes", "generate", "read", "admin", "--json"]
    key_a = run_cli(["keys", "create", "--name", "a", "--project", "hostile", *scopes], env)["key"]
    key_b = run_cli(["keys", "create", "--name", "b", "--project", "victim", *scopes], env)["key"]
    with (
        hostile_receiver("hang") as hang,
        hostile_receiver("drip") as drip,
        hostile_receiver("huge") as huge,
        webhook_receiver() as good,
    ):
        proc, url = serve_process(**SERVER_ENV)
        async with (
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key_a}"}, timeout=30) as a,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key_b}"}, timeout=30) as b,
        ):
            hostile_ids = []
            for receiver in (hang, drip, huge):
                created = await a.post("/api/v1/webhooks", json={"url": receiver.url})
                assert created.status_code == 201, created.text
                hostile_ids.append(created.json()["id"])
            tab_url = good.url + "/x\ty"
            refused = await a.post("/api/v1/webhooks", json={"url": tab_url})
            assert refused.status_code == 422 and refused.json()["error"]["param"] == "url"
            # What registration stored for it before the strict rules (it answered 201 then).
            tab_id = await insert_endpoint(database_url, project="hostile", url=tab_url)
            victim = await b.post("/api/v1/webhooks", json={"url": good.url})
            assert victim.status_code == 201, victim.text
            victim_id = victim.json()["id"]

            # Warm up (first request, first delivery), then take the memory baseline.
            assert (await b.post("/api/v1/generate", json=GEN)).status_code == 200
            await asyncio.to_thread(good.wait_for, 1, 10)
            baseline = _memory(proc.pid)["VmRSS"]

            latencies = []
            rounds = 4
            for i in range(rounds):
                assert (await a.post("/api/v1/generate", json=GEN)).status_code == 200
                done = (await b.post("/api/v1/generate", json=GEN)).status_code
                finished = time.monotonic()
                assert done == 200
                (*_, latest) = await asyncio.to_thread(good.wait_for, i + 2, 10)
                latencies.append(latest.received_at - finished)
            assert max(latencies) < 2.0, latencies

            states = await _wait_final(a, [*hostile_ids, tab_id], rounds, within=90)
            peak = _memory(proc.pid)["VmHWM"]
            assert peak - baseline < 50 * 1024 * 1024, (baseline, peak)
            assert huge.sent_bytes < HUGE_BYTES // 4  # the server hung up early
            hang_log, drip_log, huge_log, tab_log = (states[e] for e in (*hostile_ids, tab_id))
            for log in (hang_log, drip_log, huge_log, tab_log):
                assert [d["status"] for d in log] == ["dead"] * rounds, log
                assert all(d["last_error"] and d["next_attempt_at"] is None for d in log), log
            assert all("no complete answer within 2 s" in d["last_error"] for d in hang_log + drip_log)
            assert all(d["attempts"] == 2 for d in hang_log + drip_log + huge_log)
            assert all(d["last_status_code"] == 200 for d in drip_log + huge_log)
            assert all("more than 64 KiB" in d["last_error"] for d in huge_log)
            # A URL that can never work is dead at once, after one recorded attempt.
            assert all(d["attempts"] == 1 and "U+0009" in d["last_error"] for d in tab_log), tab_log
            hits = (hang.requests, drip.requests, huge.requests)

        # Restart without a graceful stop: nothing is redone, and delivery carries on.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, url = serve_process(**SERVER_ENV)
        async with (
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key_a}"}, timeout=30) as a,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key_b}"}, timeout=30) as b,
        ):
            assert (await b.post("/api/v1/generate", json=GEN)).status_code == 200
            finished = time.monotonic()
            (*_, latest) = await asyncio.to_thread(good.wait_for, rounds + 2, 10)
            assert latest.received_at - finished < 2.0
            assert {e: await _deliveries(a, e) for e in (*hostile_ids, tab_id)} == states
            assert (hang.requests, drip.requests, huge.requests) == hits
            victim_log = await _deliveries(b, victim_id)
            assert [d["status"] for d in victim_log] == ["delivered"] * (rounds + 2)
    for log in tmp_path.glob("serve-*.log"):  # the server's own log lines: no signing secret
        assert "whsec_" not in log.read_text(errors="replace"), log
