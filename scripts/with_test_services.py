"""Run a command with the PostgreSQL and Redis the tests use: the running ones, or throwaway ones.

    python scripts/with_test_services.py [--postgres] [--redis] -- COMMAND...

For each service asked for, the URL in ``ORCHESTRATOR_TEST_PG_URL`` / ``ORCHESTRATOR_TEST_REDIS_URL``
(default: the usual local port) is used when something answers there. Otherwise a throwaway
instance is started in a temporary folder from Debian's ``postgresql`` / ``redis-server``
binaries (installed with apt-get when missing) and removed afterwards. With ``CI`` set, a service
that does not answer is an error: CI provides its services, and a silent stand-in would hide that.
The command gets the chosen URLs in those two variables; the choice is printed.

Standard library only, so it runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

PG_VAR = "ORCHESTRATOR_TEST_PG_URL"
REDIS_VAR = "ORCHESTRATOR_TEST_REDIS_URL"
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def say(message: str) -> None:
    print(f"[test services] {message}", file=sys.stderr, flush=True)


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _exchange(host: str, port: int, payload: bytes, timeout: float = 2.0) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        return sock.recv(64)


def postgres_answers(url: str) -> bool:
    """A PostgreSQL server answers an SSLRequest with one byte, S or N."""
    try:
        reply = _exchange(*host_port(url, 5432), (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
    except OSError:
        return False
    return reply[:1] in (b"S", b"N")


def redis_answers(url: str) -> bool:
    try:
        return _exchange(*host_port(url, 6379), b"PING\r\n").startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def apt_install(package: str) -> None:
    say(f"{package} is not installed: installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(command, env=env, check=True)


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {seconds:.0f} s")
        time.sleep(0.1)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class Throwaway:
    """Started services and how to stop them."""

    def __init__(self) -> None:
        self.stops: list[Callable[[], None]] = []

    def postgres(self) -> str:
        bindir = postgres_bin()
        if bindir is None:
            apt_install("postgresql")
            bindir = postgres_bin()
            if bindir is None:
                raise RuntimeError("apt-get installed postgresql but pg_ctl is not to be found")
        folder = Path(tempfile.mkdtemp(prefix="orchestrator-test-pg-"))
        self.stops.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user
            shutil.chown(folder, "postgres", "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        data, port = folder / "data", free_port()
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
        subprocess.run([*pg_ctl, "-o", options, "-w", "start"], check=True, stdout=subprocess.DEVNULL)
        self.stops.append(
            lambda: subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        )
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        wait_until(lambda: postgres_answers(url), "PostgreSQL")
        say(f"PostgreSQL: throwaway {bindir.parent.name} instance at {url} (in {folder})")
        return url

    def redis(self) -> str:
        server = shutil.which("redis-server")
        if server is None:
            apt_install("redis-server")
            server = shutil.which("redis-server")
            if server is None:
                raise RuntimeError("apt-get installed redis-server but it is not on PATH")
        folder = Path(tempfile.mkdtemp(prefix="orchestrator-test-redis-"))
        port = free_port()
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(folder), "--logfile", str(folder / "log")],
            stdout=subprocess.DEVNULL,
        )

        def stop() -> None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            shutil.rmtree(folder, ignore_errors=True)

        self.stops.append(stop)
        url = f"redis://127.0.0.1:{port}/0"
        wait_until(lambda: redis_answers(url), "Redis")
        say(f"Redis: throwaway instance at {url} (in {folder})")
        return url

    def stop_all(self) -> None:
        for stop in reversed(self.stops):
            stop()
        self.stops.clear()


def choose(name: str, var: str, default: str, answers: Callable[[str], bool], start: Callable[[], str]) -> str:
    url = os.environ.get(var) or default
    if answers(url):
        say(f"{name}: the running one at {url}")
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise SystemExit(
            f"[test services] {name} does not answer at {url} ({var}); CI must provide it: failing."
        )
    say(f"{name}: nothing answers at {url}; starting a throwaway instance")
    return start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="the command needs PostgreSQL")
    parser.add_argument("--redis", action="store_true", help="the command needs Redis")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    services = Throwaway()
    # Make SIGTERM (CI stopping the run) clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        env = dict(os.environ)
        if args.postgres:
            env[PG_VAR] = choose("PostgreSQL", PG_VAR, PG_DEFAULT, postgres_answers, services.postgres)
        if args.redis:
            env[REDIS_VAR] = choose("Redis", REDIS_VAR, REDIS_DEFAULT, redis_answers, services.redis)
        return subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        services.stop_all()


if __name__ == "__main__":
    raise SystemExit(main())
