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


def sample_value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The value of one sample of a parsed Prometheus exposition (0 when absent)."""
    family_name = name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    family = families.get(family_name) or families.get(name)
    if family is None:
        return 0.0
    for sample in family.samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    return 0.0
