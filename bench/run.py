"""Load benchmark: many generations in flight against a real `orchestrator serve` process.

The test-mode renderer stands in for the upstream with a fixed latency (default 200 ms), so the
numbers measure what the orchestrator adds per generation: the job row, its claim, rendering the
image, storing it and its thumbnail, pricing, finishing the job, and answering with signed URLs.
Load comes from `wrk` (C, its own process), so the client is never the bottleneck.

    apt-get install wrk
    .venv/bin/python bench/run.py --connections 500 --duration 30 --size 256x256 --model dall-e-2
    .venv/bin/python bench/run.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent

LUA = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "throughput_rps": float(
            re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)
        ),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(m.group(1))
        if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output))
        else 0,
        "socket_errors": output.split("Socket errors:")[1].splitlines()[0].strip()
        if "Socket errors:" in output
        else "none",
    }
    for pct in ("50", "90", "99"):
        if m := re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+\w+)", output, re.MULTILINE):
            result[f"p{pct}_ms"] = round(_ms(m.group(1)), 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument(
        "--duration", type=int, default=30, help="seconds of load after a warm-up"
    )
    parser.add_argument(
        "--latency", type=float, default=0.2, help="simulated upstream latency, seconds"
    )
    parser.add_argument("--model", default="dall-e-2")
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--database-url", help="default: SQLite in a temp dir")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench needs wrk: apt-get install wrk")

    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
        env.update(
            {
                "ORCHESTRATOR_DATA_DIR": data_dir,
                "ORCHESTRATOR_OFFLINE_LATENCY_SECONDS": str(args.latency),
                "ORCHESTRATOR_WORKER_CONCURRENCY": str(max(args.connections * 2, 256)),
                "ORCHESTRATOR_LOG_LEVEL": "warning",
            }
        )
        if args.database_url:
            env["ORCHESTRATOR_DATABASE_URL"] = args.database_url
        created = subprocess.run(
            [
                BIN / "orchestrator",
                "keys",
                "create",
                "--name",
                "bench",
                "--json",
                "--rate-limit",
                "100000000",
                "--max-concurrent",
                "100000",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = json.loads(created.stdout)["key"]
        body = json.dumps(
            {
                "prompt": "benchmark: a lighthouse",
                "model": args.model,
                "size": args.size,
            }
        )
        script = Path(data_dir) / "generate.lua"
        script.write_text(LUA.format(body=body, key=key))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [BIN / "orchestrator", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            wrk = [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                "--timeout",
                "60s",
                "--latency",
                "-s",
                str(script),
                url + "/api/v1/generate",
            ]
            subprocess.run(
                [*wrk[:3], "-d5s", *wrk[3:]], capture_output=True, check=True
            )  # warm-up
            output = subprocess.run(
                [*wrk[:3], f"-d{args.duration}s", *wrk[3:]],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rss_kib = int(
                Path(f"/proc/{server.pid}/status")
                .read_text()
                .split("VmRSS:")[1]
                .split()[0]
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = parse_wrk(output) | {
        "connections": args.connections,
        "duration_s": args.duration,
        "model": args.model,
        "size": args.size,
        "upstream_latency_ms": args.latency * 1000,
        "server_rss_mib": round(rss_kib / 1024),
        "database": "postgresql" if args.database_url else "sqlite",
    }
    print(json.dumps(result, indent=2))
    return 0 if result["non_2xx"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
