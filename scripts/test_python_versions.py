"""Run the Python client's unit suite on every Python it claims (3.10 to 3.13).

    python scripts/test_python_versions.py 3.10 3.12 3.13

For each version: find the interpreter (``python3.X`` on PATH, else a pyenv install), make a
virtualenv in ``.venv-py3.X`` (kept between runs), install the client with its ``[cli]`` extra
under the repository's locks, plus the locked pytest, pytest-asyncio and ruff, and run
``clients/python/tests/unit``. The integration suite needs the server, which runs on the main
virtualenv's Python only.

A missing interpreter is reported and skipped; with ``CI=true`` or ``REQUIRE_PYTHON_VERSIONS=1``
it fails the run instead, so a machine without it cannot pass silently.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_TOOLS = ("pytest", "pytest-asyncio", "ruff")


def _interpreter(version: str) -> str | None:
    """A working ``python3.X``: a pyenv install first (its shims may answer for another version),
    else one on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(
        glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}"))
    )
    on_path = shutil.which(f"python{version}")
    for candidate in [*reversed(candidates), *([on_path] if on_path else [])]:
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        answer = subprocess.run(
            probe, capture_output=True, text=True, check=False, timeout=60
        )
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    return None


def _pins(names: tuple[str, ...]) -> list[str]:
    wanted = {name.lower() for name in names}
    pins = []
    for line in (ROOT / "requirements-dev.lock").read_text().splitlines():
        name = line.split("==", 1)[0].strip().lower()
        if name in wanted:
            pins.append(line.strip())
    missing = wanted - {p.split("==", 1)[0].lower() for p in pins}
    if missing:
        raise SystemExit(f"requirements-dev.lock has no pin for {sorted(missing)}")
    return pins


def _run(command: list[str], **kwargs: object) -> int:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=False, timeout=1800, **kwargs).returncode  # type: ignore[call-overload]


def test_on(version: str, python: str) -> bool:
    venv = ROOT / f".venv-py{version}"
    bin_dir = venv / "bin"
    stamp = venv / ".installed"
    inputs = [
        ROOT / "requirements.lock",
        ROOT / "requirements-dev.lock",
        ROOT / "clients/python/pyproject.toml",
    ]
    fresh = stamp.exists() and all(
        stamp.stat().st_mtime >= p.stat().st_mtime for p in inputs
    )
    if not fresh:
        shutil.rmtree(venv, ignore_errors=True)
        if _run([python, "-m", "venv", str(venv)]) != 0:
            return False
        pip = [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        # Runtime pins only: the dev lock pins tools (for the server) that need the newest Python.
        # standardwebhooks: the reference implementation the signature tests compare with.
        client = f"{ROOT / 'clients/python'}[cli]"
        install = [
            *pip,
            "-c",
            str(ROOT / "requirements.lock"),
            "-e",
            client,
            "standardwebhooks",
        ]
        if (
            _run(install) != 0
            or _run([*pip, *_pins(TEST_TOOLS), *_pins(("rich",))]) != 0
        ):
            return False
        stamp.touch()
    command = [
        str(bin_dir / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/unit",
    ]
    return _run(command, cwd=ROOT / "clients/python") == 0


def main(versions: list[str]) -> int:
    strict = (
        os.environ.get("CI") == "true"
        or os.environ.get("REQUIRE_PYTHON_VERSIONS") == "1"
    )
    failed, skipped = [], []
    for version in versions:
        python = _interpreter(version)
        if python is None:
            skipped.append(version)
            print(
                f"test-python-versions: no python{version} on this machine",
                file=sys.stderr,
            )
            continue
        print(f"== Python {version}: {python}", flush=True)
        if not test_on(version, python):
            failed.append(version)
    print(
        f"test-python-versions: failed {failed or 'none'}, skipped {skipped or 'none'}"
    )
    return 1 if failed or (strict and skipped) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["3.10", "3.12", "3.13"]))
