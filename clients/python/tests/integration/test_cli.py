"""The ``freepik-ai`` command line against a real server, in a pseudo-terminal like a user's shell."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pytest

from freepik_ai_orchestrator import OrchestrationClient
from freepik_ai_orchestrator.cli._batch import batch_id
from tests.integration.conftest import LiveServer

pytestmark = pytest.mark.integration

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\r")
PROMPTS = 20


class TerminalRun:
    """The CLI in a pseudo-terminal (60 rows, 160 columns); everything it shows is collected."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 160, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "60"}
        env.pop("NO_COLOR", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "freepik_ai_orchestrator.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the terminal's other side closed
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def raw(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        os.close(self._master)
        return code

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.wait(timeout=30)


def _images(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png")) if folder.exists() else []


def _wait_for_images(folder: Path, count: int, run: TerminalRun, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        found = len(_images(folder))
        if found >= count:
            return found
        assert run.process.poll() is None, f"the CLI ended early:\n{run.text[-3000:]}"
        assert time.monotonic() < deadline, f"{found} images after {timeout} s:\n{run.text[-3000:]}"
        time.sleep(0.05)


def test_a_killed_batch_resumes_and_charges_each_prompt_once(slow_server: LiveServer, tmp_path: Path) -> None:
    key = slow_server.create_key(f"cli-{uuid.uuid4().hex[:8]}")
    prompts = tmp_path / "prompts.txt"
    lines = ["# twenty lighthouses", *[f"lighthouse number {i} at dusk" for i in range(1, PROMPTS + 1)], ""]
    prompts.write_text("\n".join(lines))
    out = tmp_path / "images"
    args = ["--base-url", slow_server.url, "--api-key", key, "batch", str(prompts), "--model", "dall-e-3"]
    args += ["--concurrency", "4", "--out", str(out)]

    # Each job takes ~1.5 s on this server: with 4 at a time, kill once about half have landed.
    first = TerminalRun(args, tmp_path)
    landed = _wait_for_images(out, 8, first, timeout=120)
    first.kill()
    assert landed < PROMPTS, "the batch finished before it could be interrupted"
    shown = first.text
    assert "#2 " in shown and "lighthouse number 1 at dusk" in shown  # a bar per job, labelled by line
    assert re.search(r"━+", shown), "progress bars were drawn"

    second = TerminalRun(args, tmp_path)
    assert second.wait(timeout=180) == 0, second.text[-4000:]
    final = second.text
    assert f"{PROMPTS} succeeded, 0 failed, {PROMPTS} images saved" in final
    for number in range(2, PROMPTS + 2):  # file lines 2..21 hold the prompts
        assert re.search(rf"#{number}\s+lighthouse number {number - 1} at dusk.*100%.*done", final), number
    assert len(_images(out)) == PROMPTS

    # Exactly one generation per prompt was made and charged, however many runs it took.
    run = batch_id(prompts, {"model": "dall-e-3"})
    with OrchestrationClient(base_url=slow_server.url, api_key=key) as client:
        history = list(client.get_generation_history(limit=100, metadata={"cli_batch": run}))
        assert len(history) == PROMPTS
        assert sorted(int(g.metadata["cli_line"]) for g in history) == list(range(2, PROMPTS + 2))
        assert {g.status for g in history} == {"succeeded"}
        today = date.today()
        usage = client.get_usage_stats(today, today, group_by="metadata.cli_batch")
        [bucket] = [b for b in usage.groups or [] if b.key == run]
        assert bucket.generations == PROMPTS
        assert bucket.cost == pytest.approx(sum(g.cost or 0 for g in history))
    assert {p.name.rsplit("-", 1)[0] for p in _images(out)} == {g.id for g in history}


def test_generate_history_usage_and_webhooks(webhook_server: LiveServer, tmp_path: Path) -> None:
    base = [sys.executable, "-m", "freepik_ai_orchestrator.cli", "--base-url", webhook_server.url]
    base += ["--api-key", webhook_server.key]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    made = cli("generate", "a red kite", "--model", "dall-e-3", "--out", "one", "--json")
    assert made.returncode == 0, made.stderr
    result = json.loads(made.stdout)
    assert result["ok"] and Path(tmp_path, result["files"][0]).exists()

    listed = cli("history", "--limit", "5", "--json")
    assert listed.returncode == 0, listed.stderr
    assert result["generation_id"] in [g["id"] for g in json.loads(listed.stdout)]
    table = cli("history", "--limit", "5")
    assert result["generation_id"] in table.stdout

    usage = json.loads(cli("usage", "--json").stdout)
    assert usage["object"] == "usage" and usage["total_generations"] >= 1

    created = cli("webhooks", "create", "http://127.0.0.1:9/hooks", "--json")
    assert created.returncode == 0, created.stderr
    endpoint = json.loads(created.stdout)
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["id"] in cli("webhooks", "list").stdout
    paused = cli("webhooks", "pause", endpoint["id"], "--json")
    assert paused.returncode == 0 and json.loads(paused.stdout)["status"] == "disabled"
    refused = cli("webhooks", "test", endpoint["id"])
    assert refused.returncode == 1 and "webhook_disabled" in refused.stderr
    assert "resumed" in cli("webhooks", "resume", endpoint["id"]).stdout
    queued = json.loads(cli("webhooks", "test", endpoint["id"], "--json").stdout)
    assert queued["event_type"] == "webhook.test"
    deliveries = json.loads(cli("webhooks", "deliveries", endpoint["id"], "--json").stdout)
    assert queued["id"] in [d["id"] for d in deliveries]
    assert cli("webhooks", "delete", endpoint["id"]).returncode == 0
    missing = cli("webhooks", "get", endpoint["id"])
    assert missing.returncode == 1 and "NotFoundError" in missing.stderr
