"""Side-by-side benchmark: the orchestrator against a pass-through gateway, on one machine.

One command (``make bench``) starts a fast loopback fake of OpenAI's Images API
(``bench/upstream.py``), our server with a live key routed to ``dall-e-3`` through the OpenAI
adapter, and Portkey's open-source gateway from npm (``@portkey-ai/gateway``, installed into
``bench/.cache/``; skipped with a note when npm is absent). Gateways are pinned to CPU 0, the
upstream and ``wrk`` to CPU 1. Every scenario is driven by ``wrk`` and prints one table: requests
per second, p50, p99, server CPU milliseconds per request, peak RSS and errors, with the ratio
of our throughput to Portkey's.

Our numbers include durability: each 200 is sent after the job row, the image file and its
thumbnail are written (the finish transaction commits first). After the 2,000-in-flight run
every succeeded job's image and thumbnail are fetched back over HTTP.

    .venv/bin/python bench/run.py                       # every scenario, 15 s each
    .venv/bin/python bench/run.py --scenarios c1,c500 --duration 10 --no-portkey
    .venv/bin/python bench/run.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench
    .venv/bin/python bench/run.py --smoke               # seconds: our server only, every image back
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE = ROOT / "bench" / ".cache"
PORTKEY_VERSION = "1.15.2"
GATEWAY_CPU, LOAD_CPU = "0", "1"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scenario:
    name: str
    connections: int
    latency: float
    min_duration: int = 0


SCENARIOS = {
    "c1": Scenario("c=1, 0 ms upstream", 1, 0.0),
    "c50": Scenario("c=50, 200 ms upstream", 50, 0.2),
    "c500": Scenario("c=500, 200 ms upstream", 500, 0.2),
    "c2000": Scenario("2,000 in flight, 5 s upstream", 2000, 5.0, min_duration=20),
    # `make test` runs this one (--smoke) so the bench cannot break unseen; no timing is judged.
    "smoke": Scenario("smoke: c=4, 0 ms upstream", 4, 0.0),
}

LUA = """
wrk.method = "POST"
wrk.body = '{body}'
{headers}
"""


@dataclass
class Result:
    gateway: str
    rps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms: float | None = None
    rss_mib: float | None = None
    requests: int = 0
    errors: int = 0
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    assert match, value
    return (
        float(match.group(1))
        * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    )


def parse_wrk(output: str, result: Result) -> None:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    result.rps = float(rps.group(1)) if rps else 0.0
    result.requests = int(total.group(1)) if total else 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result.errors = int(non_2xx.group(1)) if non_2xx else 0
    if sockets := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        result.errors += sum(int(n) for n in sockets.groups())
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+([\d.]+\w+)", output, re.MULTILINE):
            setattr(result, attr, _ms(m.group(1)))


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError("upstream exited during start-up")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            return
        time.sleep(0.05)
    raise RuntimeError("upstream did not start")


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if shutil.which("taskset") else argv


@contextlib.contextmanager
def process(
    argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(url: str, script: Path, connections: int, seconds: int, latency: float) -> str:
    timeout = max(30, int(latency * 4) + 30)
    argv = pinned(
        LOAD_CPU,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            f"{timeout}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
    )
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def measure(
    pid: int,
    url: str,
    script: Path,
    scenario: Scenario,
    duration: int,
    result: Result,
    warm: bool = True,
) -> None:
    if warm:
        wrk(
            url,
            script,
            scenario.connections,
            max(3, int(scenario.latency * 2) + 2),
            scenario.latency,
        )
        settle(pid)
    before = cpu_ticks(pid)
    output = wrk(url, script, scenario.connections, duration, scenario.latency)
    spent = cpu_ticks(pid) - before
    parse_wrk(output, result)
    result.rss_mib = peak_rss_mib(pid)
    if result.requests:
        result.cpu_ms = spent * 1000 / TICK / result.requests


def settle(pid: int, limit: float = 90.0) -> None:
    """Wait until the gateway is idle: requests whose client (the warm-up) has gone may still be
    running, and their CPU would be charged to the measured run."""
    end = time.monotonic() + limit
    last = cpu_ticks(pid)
    while time.monotonic() < end:
        time.sleep(0.5)
        now = cpu_ticks(pid)
        if now - last <= TICK // 20:  # under 10% of a core
            return
        last = now


def write_script(path: Path, body: dict[str, Any], headers: dict[str, str]) -> Path:
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    path.write_text(LUA.format(body=json.dumps(body), headers=lines))
    return path


# --------------------------------------------------------------------------- gateways


def install_portkey() -> Path | None:
    """``@portkey-ai/gateway`` from npm into bench/.cache (git-ignored); None without npm."""
    entry = (
        CACHE / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    )
    if entry.exists():
        return entry
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    print(
        f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {CACHE} (npm) ...",
        flush=True,
    )
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefix",
            str(CACHE),
            f"@portkey-ai/gateway@{PORTKEY_VERSION}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return entry if entry.exists() else None


def our_env(data_dir: Path, upstream: str, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env.update(
        {
            "ORCHESTRATOR_DATA_DIR": str(data_dir),
            "ORCHESTRATOR_LOG_LEVEL": "warning",
            "ORCHESTRATOR_WORKER_CONCURRENCY": "4096",
            "ORCHESTRATOR_PROVIDER_MAX_CONNECTIONS": "4096",
            "ORCHESTRATOR_DEFAULT_RATE_LIMIT_PER_MINUTE": "100000000",
            "ORCHESTRATOR_OPENAI_API_KEY": "sk-bench-upstream",
            "ORCHESTRATOR_OPENAI_BASE_URL": upstream + "/v1",
        }
    )
    if database_url:
        env["ORCHESTRATOR_DATABASE_URL"] = database_url
    return env


def create_live_key(env: dict[str, str]) -> str:
    created = subprocess.run(
        [
            str(BIN / "orchestrator"),
            "keys",
            "create",
            "--name",
            "bench",
            "--mode",
            "live",
            "--json",
            # The highest limits a key may have (the API's caps): far above what any run sends.
            "--rate-limit",
            "1000000",
            "--max-concurrent",
            "10000",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(created.stdout)["key"])


async def check_retrievable(url: str, key: str) -> tuple[int, int]:
    """(succeeded jobs, jobs whose image or thumbnail could not be fetched back)."""
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=limits
    ) as client:
        urls: list[list[str]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "status": "succeeded"}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/generations", params=params)).json()
            urls += [[g["image_url"], g["thumbnail_url"]] for g in page["data"]]
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        gate = asyncio.Semaphore(32)

        async def fetch(pair: list[str]) -> bool:
            async with gate:
                for image_url in pair:
                    for attempt in range(3):
                        try:
                            if (await client.get(image_url)).status_code == 200:
                                break
                        except httpx.TransportError:
                            await asyncio.sleep(0.5 * (attempt + 1))
                    else:
                        return False
                return True

        ok = await asyncio.gather(*(fetch(pair) for pair in urls))
    return len(urls), sum(not good for good in ok)


def run_ours(
    scenario: Scenario, duration: int, upstream: str, args: argparse.Namespace
) -> Result:
    result = Result("orchestrator")
    with tempfile.TemporaryDirectory(prefix="bench-orch-") as tmp:
        env = our_env(Path(tmp), upstream, args.database_url)
        key = create_live_key(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = pinned(
            GATEWAY_CPU, [str(BIN / "orchestrator"), "serve", "--port", str(port)]
        )
        with process(argv, env=env) as server:
            wait_http(url + "/healthz", server, "orchestrator")
            script = write_script(
                Path(tmp) / "generate.lua",
                {"prompt": "benchmark: a lighthouse", "model": "dall-e-3"},
                {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            )
            measure(
                server.pid,
                url + "/api/v1/generate",
                script,
                scenario,
                duration,
                result,
                warm=not args.smoke,
            )
            if not result.requests:
                result.notes.append("no request was answered")
                result.errors += 1
            if scenario.connections >= 2000 or args.verify_all:
                # wrk's closed connections leave jobs running: let them finish first.
                time.sleep(scenario.latency + 2)
                try:
                    succeeded, missing = asyncio.run(check_retrievable(url, key))
                except httpx.HTTPError as exc:
                    alive = (
                        "alive"
                        if server.poll() is None
                        else f"exited {server.returncode}"
                    )
                    result.notes.append(
                        f"could not list jobs back ({exc!r}; server {alive})"
                    )
                    result.errors += 1
                    return result
                result.notes.append(
                    f"{succeeded} succeeded jobs; image + thumbnail fetched back for "
                    f"{succeeded - missing}, missing {missing}"
                )
                if missing:
                    result.errors += missing
    return result


def run_portkey(
    entry: Path, scenario: Scenario, duration: int, upstream: str
) -> Result:
    result = Result(f"Portkey {PORTKEY_VERSION}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = pinned(GATEWAY_CPU, ["node", str(entry), f"--port={port}", "--headless"])
    with (
        tempfile.TemporaryDirectory(prefix="bench-portkey-") as tmp,
        process(argv, cwd=entry.parent) as gw,
    ):
        wait_http(url + "/", gw, "Portkey")
        script = write_script(
            Path(tmp) / "portkey.lua",
            {
                "model": "dall-e-3",
                "prompt": "benchmark: a lighthouse",
                "response_format": "b64_json",
            },
            {
                "Content-Type": "application/json",
                "Authorization": "Bearer sk-bench-upstream",
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": upstream + "/v1",
            },
        )
        measure(
            gw.pid, url + "/v1/images/generations", script, scenario, duration, result
        )
    return result


def run_upstream_alone(scenario: Scenario, upstream: str, pid: int) -> Result:
    result = Result("upstream alone")
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        script = write_script(
            Path(tmp) / "up.lua", {"model": "dall-e-3", "prompt": "x"}, {}
        )
        output = wrk(
            upstream + "/v1/images/generations",
            script,
            scenario.connections,
            5,
            scenario.latency,
        )
        parse_wrk(output, result)
        result.rss_mib = peak_rss_mib(pid)
    return result


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(rows: list[tuple[Scenario, list[Result]]]) -> str:
    out = [
        "| scenario | gateway | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MiB | errors | us/Portkey |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, results in rows:
        ours = next((r for r in results if r.gateway == "orchestrator"), None)
        portkey = next((r for r in results if r.gateway.startswith("Portkey")), None)
        for r in results:
            ratio = ""
            if r is ours and portkey and portkey.rps:
                ratio = f"{ours.rps / portkey.rps:.2f}"
            out.append(
                f"| {scenario.name} | {r.gateway} | {_fmt(r.rps, 0)} | {_fmt(r.p50_ms, 2)} | "
                f"{_fmt(r.p99_ms, 2)} | {_fmt(r.cpu_ms, 2)} | {_fmt(r.rss_mib, 0)} | {r.errors} | {ratio} |"
            )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios", default="c1,c50,c500,c2000", help=f"any of {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--duration", type=int, default=15, help="seconds of measured load per run"
    )
    parser.add_argument(
        "--no-portkey", action="store_true", help="measure the orchestrator alone"
    )
    parser.add_argument("--database-url", help="default: SQLite in a temp dir")
    parser.add_argument(
        "--verify-all", action="store_true", help="fetch images back after every run"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds of the smoke scenario, our server only, images fetched back",
    )
    args = parser.parse_args()
    if args.smoke:
        args.scenarios, args.duration, args.no_portkey, args.verify_all = (
            "smoke",
            2,
            True,
            True,
        )
    if shutil.which("wrk") is None:
        sys.exit("bench needs wrk (apt-get install wrk)")
    # 2,000 connections in and 2,000 out, per process.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(65536, hard)), hard))
    entry = None if args.no_portkey else install_portkey()
    if entry is None and not args.no_portkey:
        print("note: npm/node not found; Portkey skipped (our numbers only)")
    rows: list[tuple[Scenario, list[Result]]] = []
    for name in args.scenarios.split(","):
        if name not in SCENARIOS:
            sys.exit(f"--scenarios: unknown {name!r}; use any of {','.join(SCENARIOS)}")
        scenario = SCENARIOS[name]
        duration = max(args.duration, scenario.min_duration)
        print(f"== {scenario.name}: {duration} s per gateway", flush=True)
        port = free_port()
        upstream = f"http://127.0.0.1:{port}"
        up_argv = pinned(
            LOAD_CPU,
            [sys.executable, str(ROOT / "bench" / "upstream.py"), "--port", str(port)]
            + ["--latency", str(scenario.latency)],
        )
        with process(up_argv) as up:
            wait_port(port, up)
            results = (
                [] if args.smoke else [run_upstream_alone(scenario, upstream, up.pid)]
            )
            results.append(run_ours(scenario, duration, upstream, args))
            if entry is not None:
                results.append(run_portkey(entry, scenario, duration, upstream))
        rows.append((scenario, results))
        print("\n".join(table([rows[-1]]).splitlines()[2:]), flush=True)
        for r in results:
            for note in r.notes:
                print(f"   {r.gateway}: {note}", flush=True)
    print()
    print(table(rows))
    cpu = {
        s.connections: next(r for r in rs if r.gateway == "orchestrator").cpu_ms
        for s, rs in rows
    }
    if cpu.get(1) and cpu.get(500):
        print(f"\nour CPU per request, c=500 vs c=1: {cpu[500] / cpu[1]:.2f}x")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"scenario": s.name, "results": [vars(r) for r in rs]}
                    for s, rs in rows
                ],
                indent=2,
            )
        )
    return (
        0
        if all(
            r.errors == 0 for _, rs in rows for r in rs if r.gateway == "orchestrator"
        )
        else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
