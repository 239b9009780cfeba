"""Helpers shared by tests that drive the `orchestrator` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def cli_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env.update(
        {
            "ORCHESTRATOR_DATA_DIR": str(data_dir),
            "ORCHESTRATOR_DATABASE_URL": database_url,
            "ORCHESTRATOR_SECRET_KEY": "test-secret",
        },
        **extra,
    )
    return env


def run_cli(args: list[str], env: dict[str, str]) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout) if "--json" in args else out.stdout
