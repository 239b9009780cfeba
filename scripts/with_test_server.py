"""Run a command against a real, throwaway ``orchestrator serve``.

    .venv/bin/python scripts/with_test_server.py [--setting NAME=VALUE ...] -- COMMAND [ARG ...]

Starts the server on a free loopback port with its own temporary data folder (SQLite, local
disk, test mode), creates test-mode keys with the ``orchestrator keys create`` CLI, and runs
COMMAND with these variables set:

- ``ORCHESTRATOR_BASE_URL``: the server's URL;
- ``ORCHESTRATOR_API_KEY``: a test key with the ``generate read admin`` scopes;
- ``ORCHESTRATOR_TEST_LIMITED_KEY``: a test key limited to 1 request a minute (for 429 tests);
- ``ORCHESTRATOR_TEST_DATA_DIR``: the server's data folder.

With ``--webhook-receiver`` the server may deliver webhooks to loopback targets (retrying fast),
and a loopback receiver records every delivery it gets, raw body and headers, as one JSON file
(``{"headers": {...}, "body_base64": "..."}``, numbered in arrival order, written whole) in
``ORCHESTRATOR_TEST_WEBHOOK_DIR``; ``ORCHESTRATOR_TEST_WEBHOOK_URL`` is its URL. The language
clients verify these real signatures with their own ``verify`` functions.

The server is stopped when COMMAND ends, and the command's exit status is returned. The language
clients' integration suites (TypeScript, PHP, Ruby) use this, so they all meet the same server.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STARTUP_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable() -> str:
    beside = Path(sys.executable).parent / "orchestrator"
    found = str(beside) if beside.exists() else shutil.which("orchestrator")
    if not found:
        sys.exit(
            "with_test_server: the `orchestrator` command is not installed (run `make test`)"
        )
    return found


def _create_key(
    executable: str, env: dict[str, str], cwd: Path, name: str, *extra: str
) -> str:
    command = [
        executable,
        "keys",
        "create",
        "--name",
        name,
        "--mode",
        "test",
        "--json",
        *extra,
    ]
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(
            f"with_test_server: `{' '.join(command)}` failed: {done.stderr or done.stdout}"
        )
    return str(json.loads(done.stdout.strip().splitlines()[-1])["key"])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(
                f"with_test_server: server exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit(
        f"with_test_server: server not healthy after {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}"
    )


@contextlib.contextmanager
def _webhook_receiver(folder: Path) -> Iterator[str]:
    """A loopback server answering 200 to every POST and recording it in ``folder``."""
    folder.mkdir()
    numbers = itertools.count(1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            record = {
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body_base64": base64.b64encode(body).decode(),
            }
            with lock:
                name = f"{next(numbers):04d}.json"
            partial = folder / f".{name}.part"
            partial.write_text(json.dumps(record))
            partial.rename(folder / name)  # readers never see half a file
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(
            self, format: str, *args: object
        ) -> None:  # keep test output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting, e.g. offline_latency_seconds=1.5 (becomes ORCHESTRATOR_NAME)",
    )
    parser.add_argument(
        "--webhook-receiver",
        action="store_true",
        help="record webhook deliveries on loopback (ORCHESTRATOR_TEST_WEBHOOK_URL / _DIR)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    executable = _executable()
    settings = list(args.setting)
    if args.webhook_receiver:
        settings += [
            "webhook_allow_private_targets=true",
            "webhook_retry_base_seconds=0.2",
        ]
    with (
        tempfile.TemporaryDirectory(prefix="orchestrator-test-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
        env["ORCHESTRATOR_DATA_DIR"] = str(data_dir)
        for setting in settings:
            name, _, value = setting.partition("=")
            env[f"ORCHESTRATOR_{name.upper()}"] = value
        key = _create_key(
            executable,
            env,
            data_dir,
            "client-tests",
            "--scopes",
            "generate",
            "read",
            "admin",
        )
        limited = _create_key(
            executable, env, data_dir, "client-tests-limited", "--rate-limit", "1"
        )

        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [executable, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=data_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_healthy(url, server, log)
            child_env = dict(os.environ)
            child_env.update(
                ORCHESTRATOR_BASE_URL=url,
                ORCHESTRATOR_API_KEY=key,
                ORCHESTRATOR_TEST_LIMITED_KEY=limited,
                ORCHESTRATOR_TEST_DATA_DIR=str(data_dir),
            )
            if args.webhook_receiver:
                folder = Path(tmp) / "webhooks"
                child_env["ORCHESTRATOR_TEST_WEBHOOK_URL"] = stack.enter_context(
                    _webhook_receiver(folder)
                )
                child_env["ORCHESTRATOR_TEST_WEBHOOK_DIR"] = str(folder)
            return subprocess.run(command, env=child_env, check=False).returncode
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
