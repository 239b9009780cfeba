"""``batch``: one generation per line of a prompts file, resumable without paying twice.

Each line's Idempotency-Key is derived from the file (its resolved path), the line number, the
prompt and the generation options. Running the same command again after an interruption sends the
same keys: the server answers lines it already ran (or is running) from its idempotency record,
without a new charge, and images already in the output folder are not fetched again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ._jobs import Job


def batch_id(path: Path, params: dict[str, Any]) -> str:
    """A short, stable name for this file run with these options (also sent as metadata)."""
    source = f"{path.resolve()}\0{json.dumps(params, sort_keys=True)}"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def line_key(path: Path, line: int, prompt: str, params: dict[str, Any]) -> str:
    """The Idempotency-Key of one line: the same file, line, prompt and options give the same key."""
    source = f"{path.resolve()}\0{line}\0{prompt}\0{json.dumps(params, sort_keys=True)}"
    return "cli-batch-" + hashlib.sha256(source.encode()).hexdigest()[:40]


def read_jobs(path: Path, params: dict[str, Any]) -> list[Job]:
    """One job per non-blank line that does not start with ``#`` (line numbers count every line)."""
    run = batch_id(path, params)
    jobs: list[Job] = []
    width = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    width = len(str(len(lines)))
    for number, raw in enumerate(lines, 1):
        prompt = raw.strip()
        if not prompt or prompt.startswith("#"):
            continue
        metadata = {"cli_batch": run, "cli_line": str(number)}
        job_params = {**params, "metadata": {**params.get("metadata", {}), **metadata}}
        short = prompt if len(prompt) <= 32 else prompt[:31] + "…"
        jobs.append(
            Job(
                label=f"#{number:<{width}} {short}",
                prompt=prompt,
                params=job_params,
                idempotency_key=line_key(path, number, prompt, params),
            )
        )
    return jobs
