"""Real servers for the integration tests.

A session fixture starts ``orchestrator serve`` as a subprocess on a free port with its own
temporary ``ORCHESTRATOR_DATA_DIR``, creates API keys with the ``orchestrator keys create`` CLI and
waits for ``/healthz``. A second, "slow" server (offline renderer latency above the synchronous
wait) exercises the 202-then-wait path, progress events and cancellation.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_TIMEOUT = 60.0


def _orchestrator_executable() -> str:
    beside = Path(sys.executable).parent / "orchestrator"
    found = str(beside) if beside.exists() else shutil.which("orchestrator")
    if not found:
        pytest.fail(
            "the `orchestrator` server CLI is not installed in this environment; install the server "
            "(pip install -e server) to run the integration tests",
            pytrace=False,
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running server and a way to mint keys for it."""

    url: str
    data_dir: Path
    env: dict[str, str]
    executable: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    key: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    def create_key(
        self, name: str, *extra: str, scopes: tuple[str, ...] = ("generate", "read", "admin")
    ) -> str:
        command = [
            self.executable,
            "keys",
            "create",
            "--name",
            name,
            "--mode",
            "test",
            "--scopes",
            *scopes,
            *extra,
            "--json",
        ]
        done = subprocess.run(
            command, env=self.env, cwd=self.data_dir, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr or done.stdout}"
            )
        created: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        assert created["key"].startswith("sk-test-"), created
        self.keys[name] = created["key"]
        return str(created["key"])

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [self.executable, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env,
            cwd=self.data_dir,  # no stray .env file from the caller's directory
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"orchestrator serve exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"orchestrator serve not healthy after {STARTUP_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def _launch(tmp_root: Path, name: str, **settings: str) -> LiveServer:
    data_dir = tmp_root / name
    data_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env["ORCHESTRATOR_DATA_DIR"] = str(data_dir)
    env.update({f"ORCHESTRATOR_{k.upper()}": v for k, v in settings.items()})
    server = LiveServer(
        url=f"http://127.0.0.1:{_free_port()}",
        data_dir=data_dir,
        env=env,
        executable=_orchestrator_executable(),
        log_path=tmp_root / f"{name}.log",
    )
    server.key = server.create_key("integration")
    server.start()
    return server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = _launch(tmp_path_factory.mktemp("orchestrator"), "main")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Generations take ~1.5 s and the synchronous endpoint waits only 0.3 s, so POST /generate
    answers 202 with the job."""
    server = _launch(
        tmp_path_factory.mktemp("orchestrator-slow"),
        "slow",
        offline_latency_seconds="1.5",
        sync_wait_seconds="0.3",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def patient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Generations take 4 s and the server's synchronous wait is its default (minutes), so only
    the client's ``Prefer: wait`` keeps POST /generate from holding a short-budget call."""
    server = _launch(tmp_path_factory.mktemp("orchestrator-patient"), "patient", offline_latency_seconds="4")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webhook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server allowed to deliver webhooks to loopback receivers (the tests' own), retrying fast."""
    server = _launch(
        tmp_path_factory.mktemp("orchestrator-webhooks"),
        "webhooks",
        webhook_allow_private_targets="true",
        webhook_retry_base_seconds="0.2",
    )
    try:
        yield server
    finally:
        server.stop()
