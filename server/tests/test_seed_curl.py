"""The seed client reference's cURL examples, run as written (real URL and key put in)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from support import cli_env, run_cli

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_e80767665285fc9c.txt"

# The seed reference is planning material beside the repository (CI has it), not part of it.
pytestmark = pytest.mark.skipif(
    not SEED.exists(), reason=f"the seed client reference is not beside the repository ({SEED})"
)


def curl_examples() -> list[str]:
    if not SEED.exists():
        pytest.skip(f"the seed client reference is not beside the repository ({SEED})")
    blocks = re.findall(r"```bash\n(.*?)```", SEED.read_text(), re.S)
    return [b for b in blocks if b.lstrip().startswith("curl")]


@pytest.mark.timeout(180)  # `orchestrator serve` and the CLI as processes
def test_seed_curl_examples_run_as_written(serve_process, tmp_path, database_url) -> None:
    examples = curl_examples()
    assert len(examples) == 3
    key = run_cli(["keys", "create", "--name", "curl", "--json"], cli_env(tmp_path / "data", database_url))[
        "key"
    ]
    _, url = serve_process()
    outputs = []
    for example in examples:
        command = example.replace("http://localhost:8000", url).replace("your-api-key", key)
        done = subprocess.run(
            ["bash", "-c", command.strip() + " --silent --show-error --fail-with-body"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        outputs.append(json.loads(done.stdout))
    generated, models, history = outputs
    assert generated["status"] == "succeeded" and generated["model"] == "dall-e-3"
    assert generated["style"] == "photorealistic" and generated["size"] == "1024x1024"
    assert generated["image_url"].startswith(url) and generated["thumbnail_url"].startswith(url)
    assert "dall-e-3" in {m["name"] for m in models["data"]}
    assert [g["id"] for g in history["data"]] == [generated["id"]]
