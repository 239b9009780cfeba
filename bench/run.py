"""Load benchmark: many generations in flight against a real `orchestrator serve` process.

The test-mode renderer stands in for the upstream with a fixed latency (default 200 ms), so the
numbers measure what the orchestrator adds per generation: the job row, claim, image render or
download, storage, thumbnail, finish, history. The load generator runs in its own process.

    .venv/bin/python bench/run.py --concurrency 500 --requests 5000 --size 256x256 --model dall-e-2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def drive(url: str, key: str, args: argparse.Namespace) -> dict[str, float]:
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    body = {"prompt": "benchmark: a lighthouse", "model": args.model, "size": args.size}
    counter = iter(range(args.requests))

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=120) as client:
        async def worker() -> None:
            for _ in counter:
                started = time.perf_counter()
                try:
                    response = await client.post("/api/v1/generate", json=body)
                    ok = response.status_code == 200
                    reason = str(response.status_code)
                except httpx.HTTPError as exc:
                    ok, reason = False, type(exc).__name__
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[reason] = errors.get(reason, 0) + 1

        # Warm-up: connections, caches, the SQLite file.
        await asyncio.gather(*(client.post("/api/v1/generate", json=body) for _ in range(20)))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started

    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "requests": args.requests, "concurrency": args.concurrency, "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1), "ok": len(latencies),
        "errors": sum(errors.values()), "error_kinds": errors,  # type: ignore[dict-item]
        "p50_ms": round(pct(0.50), 1), "p95_ms": round(pct(0.95), 1), "p99_ms": round(pct(0.99), 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.2, help="simulated upstream latency, seconds")
    parser.add_argument("--model", default="dall-e-2")
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--database-url", help="default: SQLite in a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
        env.update({
            "ORCHESTRATOR_DATA_DIR": data_dir,
            "ORCHESTRATOR_OFFLINE_LATENCY_SECONDS": str(args.latency),
            "ORCHESTRATOR_WORKER_CONCURRENCY": str(max(args.concurrency * 2, 256)),
            "ORCHESTRATOR_LOG_LEVEL": "warning",
        })
        if args.database_url:
            env["ORCHESTRATOR_DATABASE_URL"] = args.database_url
        created = subprocess.run(
            [BIN / "orchestrator", "keys", "create", "--name", "bench", "--json", "--rate-limit", "10000000",
             "--max-concurrent", "100000"], env=env, capture_output=True, text=True, check=True)
        key = json.loads(created.stdout)["key"]
        port = free_port()
        server = subprocess.Popen([BIN / "orchestrator", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            result = asyncio.run(drive(url, key, args))
        finally:
            server.terminate()
            server.wait(timeout=30)
    result |= {"model": args.model, "size": args.size, "upstream_latency_ms": args.latency * 1000,
               "database": "postgresql" if args.database_url else "sqlite"}
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
