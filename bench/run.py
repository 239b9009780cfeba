"""Side-by-side benchmark: the orchestrator against a pass-through gateway, on one machine.

One command (``make bench``) starts a fast loopback fake of OpenAI's Images API
(``bench/upstream.py``), our server with a live key routed to ``dall-e-3`` through the OpenAI
adapter, and Portkey's open-source gateway from npm (``@portkey-ai/gateway``, installed into
``bench/.cache/``; skipped with a note when npm is absent). Gateways are pinned to CPU 0 (but
for ``workers``), the upstream and ``wrk`` to CPU 1. Every scenario is driven by ``wrk`` and prints
one table: requests per second, p50, p99, server CPU milliseconds per request (all processes of
a server), peak RSS (summed over them) and errors, with the ratio of our throughput to Portkey's
(or, for ``workers``, of 2 processes to 1).

Our numbers include durability: each 200 is sent after the job row and the checked image file
are written (the finish transaction commits first; thumbnails are made when first asked for).
After the 2,000-in-flight run every succeeded job's image and thumbnail are fetched back over HTTP.

    .venv/bin/python bench/run.py                       # every scenario, 15 s each
    .venv/bin/python bench/run.py --scenarios c1,c500 --duration 10 --no-portkey
    .venv/bin/python bench/run.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench
    .venv/bin/python bench/run.py --smoke               # seconds: our server only, every image back
    .venv/bin/python bench/run.py --scenarios edit,cache,workers --duration 5 --no-portkey

The upstream answers a tiny 64 px PNG, except in ``photo``: a 1024 px PNG of about 1.8 MB, the
weight of a real generation, so the work done on each image's bytes is measured at its real size.
Beyond generation: ``edit`` uploads a 1 MB PNG as multipart to ``POST /api/v1/images/edits`` on
every request (no Portkey row: see the scenario); ``cache`` sends one request with
``"cache": "always"`` over and over, so every measured request must be a $0 hit (checked on
``/metrics`` and on the upstream's own count); ``workers`` runs ``serve --workers 1`` and then
``--workers 2``, each on a fresh PostgreSQL database and its own Redis key prefix, and reports
their ratio. The smoke also sends a small edit and a cache hit, so those paths cannot rot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from upstream import tiny_png  # (the bench is scripts, not a package)

BIN = Path(sys.executable).parent
CACHE = ROOT / "bench" / ".cache"
PORTKEY_VERSION = "1.15.2"
GATEWAY_CPU, LOAD_CPU = "0", "1"
METRICS_TOKEN = "bench-metrics-token"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Workload:
    """What each request of a run is: ``generate`` (JSON), ``edit`` (a multipart upload of a PNG
    of about ``upload_bytes``) or ``cache`` (one identical generation with ``cache: "always"``, repeated)."""

    kind: str = "generate"
    upload_bytes: int = 0
    label: str = ""
    max_seconds: int | None = (
        None  # caps the run's duration (the smoke's extra workloads)
    )


GENERATE = Workload()
EDIT_1MB = Workload("edit", 1_000_000)
CACHE_HIT = Workload("cache")


@dataclass(frozen=True)
class Scenario:
    name: str
    connections: int
    latency: float
    min_duration: int = 0
    workloads: tuple[Workload, ...] = (GENERATE,)
    # Non-empty: our server alone with these `serve --workers` counts in turn, on PostgreSQL + Redis.
    workers: tuple[int, ...] = ()
    portkey: bool = True
    why_no_portkey: str = ""
    image_side: int = 0
    """Non-zero: the upstream answers a photo-like PNG this many pixels square (else 64 px, flat)."""


SCENARIOS = {
    "c1": Scenario("c=1, 0 ms upstream", 1, 0.0),
    "c50": Scenario("c=50, 200 ms upstream", 50, 0.2),
    "c500": Scenario("c=500, 200 ms upstream", 500, 0.2),
    "c2000": Scenario("2,000 in flight, 5 s upstream", 2000, 5.0, min_duration=20),
    # The image of a real generation (1024 px, about 1.8 MB of PNG) instead of the tiny one: what
    # we do with each image's bytes (check, provenance, store) is measured at its real size.
    "photo": Scenario(
        "c=50, 200 ms upstream, 1024 px PNG (1.8 MB)", 50, 0.2, image_side=1024
    ),
    # A 1 MB PNG uploaded (multipart) with every request; the "upstream alone" row takes the same
    # body, so it shows the upstream absorbs the uploads at that rate.
    "edit": Scenario(
        "edit, 1 MB upload, c=50, 200 ms upstream",
        50,
        0.2,
        workloads=(EDIT_1MB,),
        portkey=False,
        why_no_portkey="Portkey 1.15.2 (Node 20) answers every multipart edit 500 after the "
        "upstream's 200: it appends headers to the upstream's fetch Response, whose headers are "
        "immutable (TypeError: immutable), so there is no pass-through to compare",
    ),
    # Every measured request is a hit answered from stored results ($0, the upstream never sees it).
    "cache": Scenario(
        "cache hit, c=50 (200 ms upstream, unused)",
        50,
        0.2,
        workloads=(CACHE_HIT,),
        portkey=False,
        why_no_portkey="Portkey's open-source gateway has no result cache (nothing in its build "
        "sets the cache lookup its request handler reads; caching is a hosted feature): its row "
        "would be the c=50 pass-through again",
    ),
    # serve --workers 1 vs 2 on PostgreSQL + Redis; see run_workers for CPU placement.
    "workers": Scenario(
        "c=500, 200 ms upstream, PostgreSQL + Redis",
        500,
        0.2,
        workers=(1, 2),
        portkey=False,
        why_no_portkey="compares our process counts with each other (Portkey is one Node process)",
    ),
    # `make test` runs this one (--smoke) so the bench cannot break unseen; no timing is judged.
    # A small edit and a cache hit ride along on the same server so those paths cannot rot either.
    "smoke": Scenario(
        "smoke: c=4, 0 ms upstream",
        4,
        0.0,
        workloads=(
            GENERATE,
            Workload("edit", 20_000, "edit, small upload", max_seconds=1),
            Workload("cache", label="cache hit", max_seconds=1),
        ),
    ),
}

LUA = """
wrk.method = "POST"
{body}
{headers}
"""


@dataclass
class Result:
    gateway: str
    baseline: str = (
        ""  # the row this one's throughput is divided by in the ratio column
    )
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


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``serve --workers N`` runs N children under one supervisor)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(
                stat.read_text().rsplit(")", 1)[1].split()[1]
            )
    tree = [pid]
    for member in tree:
        tree += [child for child, parent in parents.items() if parent == member]
    return tree


def cpu_ticks(pid: int) -> int:
    """utime + stime of all threads of ``pid`` and of its live descendants."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


def peak_rss_mib(pid: int) -> float:
    """The sum of each process's peak RSS (``VmHWM``) over ``pid`` and its descendants."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            status = Path(f"/proc/{member}/status").read_text()
            total += int(status.split("VmHWM:")[1].split()[0])
    return total / 1024


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
    at_start: Callable[[], None] | None = None,
) -> None:
    """Warm up (unless ``warm`` is false), wait for idle, call ``at_start``, then measure."""
    if warm:
        wrk(
            url,
            script,
            scenario.connections,
            max(3, int(scenario.latency * 2) + 2),
            scenario.latency,
        )
        settle(pid)
    if at_start is not None:
        at_start()
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


def write_script(
    path: Path, body: dict[str, Any] | bytes, headers: dict[str, str]
) -> Path:
    """A wrk script posting ``body``: JSON inline, raw bytes from a file next to the script."""
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    if isinstance(body, bytes):
        data = path.with_suffix(".body")
        data.write_bytes(body)
        # wrk's LuaJIT reads the file once when the script loads, in binary.
        line = f'local f = assert(io.open("{data}", "rb"))\nwrk.body = f:read("*a")\nf:close()'
    else:
        line = f"wrk.body = '{json.dumps(body)}'"
    path.write_text(LUA.format(body=line, headers=lines))
    return path


def upload_png(target_bytes: int) -> bytes:
    """A real 1024x1024 PNG of about ``target_bytes``: rows of noise (incompressible) over a flat
    background, so the gateway decodes a full-size image, not a trick one."""
    import random

    from PIL import Image

    side = 1024
    rows = max(1, min(side, target_bytes // (side * 3)))
    noise = random.Random(0).randbytes(side * rows * 3)
    image = Image.new("RGB", (side, side), (30, 90, 160))
    image.paste(Image.frombytes("RGB", (side, rows), noise), (0, 0))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def multipart(
    fields: dict[str, str], files: list[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """``(body, content type)`` of a multipart/form-data request; files are (field, name, PNG)."""
    boundary = f"bench-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for field_name, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


EDIT_PROMPT = "benchmark: the lighthouse at night"


def edit_body(workload: Workload) -> tuple[bytes, str]:
    """The one multipart edit every request of ``workload`` sends: OpenAI's edit form (``model``,
    ``prompt``, one ``image``), which our endpoint and Portkey's both take."""
    image = (
        upload_png(workload.upload_bytes)
        if workload.upload_bytes >= 100_000
        else tiny_png()
    )
    return multipart(
        {"model": "gpt-image-1", "prompt": EDIT_PROMPT}, [("image", "input.png", image)]
    )


def generate_request(workload: Workload) -> dict[str, Any]:
    """The JSON body of a ``generate`` or ``cache`` workload's every request."""
    request: dict[str, Any] = {"prompt": "benchmark: a lighthouse", "model": "dall-e-3"}
    if workload.kind == "cache":
        # After the first, every request is a stored result. "always", not a seed with `true`:
        # the upstream speaks OpenAI, and its models take no seed (the catalog refuses one).
        request["cache"] = "always"
    return request


def our_script(tmp: Path, workload: Workload, key: str) -> tuple[str, Path]:
    """``(path, wrk script)`` of one workload against our server."""
    auth = {"Authorization": f"Bearer {key}"}
    if workload.kind == "edit":
        body, content_type = edit_body(workload)
        script = write_script(
            tmp / "edit.lua", body, {"Content-Type": content_type, **auth}
        )
        return "/api/v1/images/edits", script
    request = generate_request(workload)
    script = write_script(
        tmp / f"{workload.kind}.lua",
        request,
        {"Content-Type": "application/json", **auth},
    )
    return "/api/v1/generate", script


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
            # The default (1,000 per process) answers the 2,000-in-flight row's second half with 503.
            "ORCHESTRATOR_HTTP_MAX_CONNECTIONS": "4096",
            "ORCHESTRATOR_DEFAULT_RATE_LIMIT_PER_MINUTE": "100000000",
            "ORCHESTRATOR_OPENAI_API_KEY": "sk-bench-upstream",
            "ORCHESTRATOR_OPENAI_BASE_URL": upstream + "/v1",
            # The cache row reads its hits on /metrics.
            "ORCHESTRATOR_METRICS_TOKEN": METRICS_TOKEN,
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


def upstream_counts(upstream: str) -> dict[str, int]:
    """Requests per path the fake upstream has answered (its ``GET /stats``)."""
    return {
        k: int(v) for k, v in httpx.get(upstream + "/stats", timeout=10).json().items()
    }


def provider_calls(upstream: str, route: str) -> int:
    return sum(
        n for path, n in upstream_counts(upstream).items() if path.endswith(route)
    )


def cache_lookups(url: str) -> dict[str, float]:
    """``orchestrator_cache_lookups_total`` by result (hit, miss) from our ``/metrics``."""
    text = httpx.get(
        url + "/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=30,
    ).text
    pattern = r'^orchestrator_cache_lookups_total\{result="(\w+)"\} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.MULTILINE)}


def run_workload(
    url: str,
    server: subprocess.Popen[bytes],
    tmp: Path,
    key: str,
    workload: Workload,
    scenario: Scenario,
    duration: int,
    upstream: str,
    args: argparse.Namespace,
    result: Result,
) -> None:
    """One workload against a running server of ours, with the checks that its requests did what
    the row claims: each answered edit reached the upstream's edit endpoint; each cache request
    was a hit, and the upstream saw none of them."""
    path, script = our_script(tmp, workload, key)
    route = "/images/edits" if workload.kind == "edit" else "/images/generations"
    start: dict[str, Any] = {}

    def snapshot() -> None:
        if workload.kind == "cache" and args.smoke:
            # No warm-up in the smoke: one request stores the result, so every measured request
            # must be a hit (a cold start's concurrent first requests are not what is checked).
            first = httpx.post(
                url + path,
                json=generate_request(workload),
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            first.raise_for_status()
        start["calls"] = provider_calls(upstream, route)
        if workload.kind == "cache":
            start["lookups"] = cache_lookups(url)

    measure(
        server.pid,
        url + path,
        script,
        scenario,
        min(duration, workload.max_seconds or duration),
        result,
        warm=not args.smoke,
        at_start=snapshot,
    )
    if not result.requests:
        result.notes.append("no request was answered")
        result.errors += 1
        return
    # An edit is answered only after its provider call, so no wait is needed for the count.
    calls = provider_calls(upstream, route) - start["calls"]
    if workload.kind == "edit":
        result.notes.append(
            f"{result.requests} edits answered, {calls} reached the upstream's {route}"
        )
        if calls < result.requests - result.errors:
            result.errors += 1
    elif workload.kind == "cache":
        after = cache_lookups(url)
        hits = after.get("hit", 0) - start["lookups"].get("hit", 0)
        misses = after.get("miss", 0) - start["lookups"].get("miss", 0)
        # The result is stored before the measured run (warm-up, or the smoke's first request).
        result.notes.append(
            f"cache lookups during the run: {hits:.0f} hits, {misses:.0f} misses; "
            f"{calls} requests reached the upstream"
        )
        if misses or calls or hits < result.requests:
            result.errors += 1
            result.notes.append("not every request was a cache hit")


def run_ours(
    scenario: Scenario,
    duration: int,
    upstream: str,
    args: argparse.Namespace,
    *,
    workers: int | None = None,
    database_url: str | None = None,
    redis: tuple[str, str] | None = None,
) -> list[Result]:
    """One server of ours with a fresh live key (SQLite in a temp dir unless ``database_url`` or
    ``--database-url``), each of the scenario's workloads against it in turn: one row each.
    ``workers``: ``serve --workers N``, not pinned (N processes need the cores); ``redis``: the
    URL and a key prefix of this run's own."""
    label = "orchestrator"
    if workers is not None:
        label += f", {workers} worker{'s' if workers > 1 else ''}"
    results = [
        Result(f"{label}: {w.label}" if w.label else label) for w in scenario.workloads
    ]
    with tempfile.TemporaryDirectory(prefix="bench-orch-") as tmp:
        env = our_env(Path(tmp), upstream, database_url or args.database_url)
        if redis is not None:
            env["ORCHESTRATOR_REDIS_URL"], env["ORCHESTRATOR_REDIS_KEY_PREFIX"] = redis
        key = create_live_key(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [str(BIN / "orchestrator"), "serve", "--port", str(port)]
        if workers is not None:
            argv += ["--workers", str(workers)]
        else:
            argv = pinned(GATEWAY_CPU, argv)
        with process(argv, env=env) as server:
            wait_http(url + "/healthz", server, "orchestrator")
            for workload, result in zip(scenario.workloads, results, strict=True):
                run_workload(
                    url,
                    server,
                    Path(tmp),
                    key,
                    workload,
                    scenario,
                    duration,
                    upstream,
                    args,
                    result,
                )
            if scenario.connections >= 2000 or args.verify_all:
                verify_all(url, key, server, scenario, results[0])
    return results


def verify_all(
    url: str,
    key: str,
    server: subprocess.Popen[bytes],
    scenario: Scenario,
    result: Result,
) -> None:
    """Every succeeded job's image and thumbnail fetched back over HTTP (noted on ``result``)."""
    # wrk's closed connections leave jobs running: let them finish first.
    time.sleep(scenario.latency + 2)
    try:
        succeeded, missing = asyncio.run(check_retrievable(url, key))
    except httpx.HTTPError as exc:
        alive = "alive" if server.poll() is None else f"exited {server.returncode}"
        result.notes.append(f"could not list jobs back ({exc!r}; server {alive})")
        result.errors += 1
        return
    result.notes.append(
        f"{succeeded} succeeded jobs; image + thumbnail fetched back for "
        f"{succeeded - missing}, missing {missing}"
    )
    result.errors += missing


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """A new PostgreSQL database for one run (its SQLAlchemy URL), dropped afterwards."""
    import asyncpg

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        base = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def clear_redis(url: str, prefix: str) -> None:
    """Delete this run's keys (and only them: the Redis may be shared)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for name in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(name)
    finally:
        client.close()


def run_workers(
    scenario: Scenario, duration: int, upstream: str, args: argparse.Namespace
) -> list[Result]:
    """``serve --workers N`` for each N of the scenario, each on its own fresh PostgreSQL database
    and its own Redis key prefix, one after the other against the same upstream.

    Placement: here the gateway is not pinned, so N processes may use every core; the upstream and
    wrk stay on CPU 1 as in every row. On a 2-core machine the second worker therefore shares
    CPU 1 with the load generator and the upstream, so the 2-worker row gets less than two cores
    and its ratio to the 1-worker row understates what a second core adds (the 1-worker row,
    also unpinned, may use whatever CPU 1 leaves too). Compare the ratio, not the absolute
    numbers with the pinned rows."""
    results: list[Result] = []
    for n in scenario.workers:
        name = f"bench_{os.getpid()}_w{n}"
        prefix = f"orchestrator-{name}:"
        try:
            with fresh_database(args.postgres_url, name) as database_url:
                rows = run_ours(
                    scenario,
                    duration,
                    upstream,
                    args,
                    workers=n,
                    database_url=database_url,
                    redis=(args.redis_url, prefix),
                )
        finally:
            clear_redis(args.redis_url, prefix)
        if results:
            rows[0].baseline = results[0].gateway
        results += rows
    return results


def run_portkey(
    entry: Path, scenario: Scenario, duration: int, upstream: str
) -> Result:
    result = Result(f"Portkey {PORTKEY_VERSION}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = pinned(GATEWAY_CPU, ["node", str(entry), f"--port={port}", "--headless"])
    headers = {
        "Authorization": "Bearer sk-bench-upstream",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream + "/v1",
    }
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
            {"Content-Type": "application/json", **headers},
        )
        measure(
            gw.pid, url + "/v1/images/generations", script, scenario, duration, result
        )
    if not result.requests:
        result.notes.append("no request was answered")
        result.errors += 1
    return result


def run_upstream_alone(scenario: Scenario, upstream: str, pid: int) -> Result:
    result = Result("upstream alone")
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        if scenario.workloads[0].kind == "edit":  # the same upload the gateways forward
            body, content_type = edit_body(scenario.workloads[0])
            script = write_script(
                Path(tmp) / "up.lua", body, {"Content-Type": content_type}
            )
            path = "/v1/images/edits"
        else:
            script = write_script(
                Path(tmp) / "up.lua", {"model": "dall-e-3", "prompt": "x"}, {}
            )
            path = "/v1/images/generations"
        output = wrk(upstream + path, script, scenario.connections, 5, scenario.latency)
        parse_wrk(output, result)
        result.rss_mib = peak_rss_mib(pid)
    return result


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(rows: list[tuple[Scenario, list[Result]]]) -> str:
    """The markdown table; ratio = a row's throughput over its baseline row's (Portkey's for
    ours, the 1-worker row's for 2 workers)."""
    out = [
        "| scenario | gateway | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MiB | errors | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, results in rows:
        for r in results:
            ratio = ""
            base = next((b for b in results if b.gateway == r.baseline), None)
            if r.baseline and base is not None and base.rps:
                ratio = f"{r.rps / base.rps:.2f} vs {base.gateway}"
            out.append(
                f"| {scenario.name} | {r.gateway} | {_fmt(r.rps, 0)} | {_fmt(r.p50_ms, 2)} | "
                f"{_fmt(r.p99_ms, 2)} | {_fmt(r.cpu_ms, 2)} | {_fmt(r.rss_mib, 0)} | {r.errors} | {ratio} |"
            )
    return "\n".join(out)


def answers(url: str) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with (
        contextlib.suppress(OSError),
        socket.create_connection((parts.hostname, parts.port), timeout=2),
    ):
        return True
    return False


DEFAULT_SCENARIOS = "c1,c50,c500,c2000,photo,edit,cache,workers"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios",
        help=f"any of {','.join(SCENARIOS)} (default: {DEFAULT_SCENARIOS}; workers is skipped "
        "when PostgreSQL or Redis does not answer)",
    )
    parser.add_argument(
        "--duration", type=int, default=15, help="seconds of measured load per run"
    )
    parser.add_argument(
        "--no-portkey", action="store_true", help="measure the orchestrator alone"
    )
    parser.add_argument("--database-url", help="default: SQLite in a temp dir")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where the workers scenario creates (and drops) a database per run",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="the Redis of the workers scenario (each run under its own key prefix)",
    )
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
    explicit = args.scenarios is not None
    if args.smoke:
        args.scenarios, args.duration, args.no_portkey, args.verify_all = (
            "smoke",
            2,
            True,
            True,
        )
        explicit = True
    if shutil.which("wrk") is None:
        sys.exit("bench needs wrk (apt-get install wrk)")
    names = (args.scenarios or DEFAULT_SCENARIOS).split(",")
    for name in names:
        if name not in SCENARIOS:
            sys.exit(f"--scenarios: unknown {name!r}; use any of {','.join(SCENARIOS)}")
    services = answers(args.postgres_url) and answers(args.redis_url)
    if "workers" in names and not services:
        if explicit:
            sys.exit(
                f"workers needs PostgreSQL ({args.postgres_url}) and Redis ({args.redis_url})"
            )
        print(
            "note: PostgreSQL or Redis does not answer; the workers scenario is skipped"
        )
        names.remove("workers")
    # 2,000 connections in and 2,000 out, per process.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(65536, hard)), hard))
    entry = None if args.no_portkey else install_portkey()
    if entry is None and not args.no_portkey:
        print("note: npm/node not found; Portkey skipped (our numbers only)")
    rows: list[tuple[Scenario, list[Result]]] = []
    for name in names:
        scenario = SCENARIOS[name]
        duration = max(args.duration, scenario.min_duration)
        print(f"== {scenario.name}: {duration} s per gateway", flush=True)
        port = free_port()
        upstream = f"http://127.0.0.1:{port}"
        up_argv = pinned(
            LOAD_CPU,
            [sys.executable, str(ROOT / "bench" / "upstream.py"), "--port", str(port)]
            + [
                "--latency",
                str(scenario.latency),
                "--image-side",
                str(scenario.image_side),
            ],
        )
        with process(up_argv) as up:
            wait_port(port, up)
            results = (
                []
                if args.smoke
                or scenario.workloads == (CACHE_HIT,)  # a hit never reaches it
                else [run_upstream_alone(scenario, upstream, up.pid)]
            )
            if scenario.workers:
                results += run_workers(scenario, duration, upstream, args)
            else:
                results += run_ours(scenario, duration, upstream, args)
            if entry is not None and scenario.portkey:
                portkey = run_portkey(entry, scenario, duration, upstream)
                results[-1].baseline = portkey.gateway
                results.append(portkey)
            elif entry is not None:
                results[-1].notes.append(f"no Portkey row: {scenario.why_no_portkey}")
        rows.append((scenario, results))
        print("\n".join(table([rows[-1]]).splitlines()[2:]), flush=True)
        for r in results:
            for note in r.notes:
                print(f"   {r.gateway}: {note}", flush=True)
    print()
    print(table(rows))
    notes = [
        f"- {s.name}, {r.gateway}: {n}" for s, rs in rows for r in rs for n in r.notes
    ]
    if notes:
        print("\n" + "\n".join(notes))
    cpu = {
        s: next((r.cpu_ms for r in rs if r.gateway == "orchestrator"), None)
        for s, rs in rows
    }
    c1, c500 = cpu.get(SCENARIOS["c1"]), cpu.get(SCENARIOS["c500"])
    if c1 and c500:
        print(f"\nour CPU per request, c=500 vs c=1: {c500 / c1:.2f}x")
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
    ours = [r for _, rs in rows for r in rs if r.gateway.startswith("orchestrator")]
    return 0 if all(r.errors == 0 for r in ours) else 1


if __name__ == "__main__":
    raise SystemExit(main())
