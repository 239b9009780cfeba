"""The runnable copies of the seed snippets in ``examples/`` work against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import LiveServer

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "basic_usage.py": ["Generated image URL: http"],
    "client_configuration.py": ["models reachable at http"],
    "generate.py": ["succeeded, 1024x1024 hd", "Generated image URL: http"],
    "batch.py": ["Prompt 1: http", "Prompt 3: http", "3 succeeded, 0 failed"],
    "models_and_usage.py": ["dall-e-3: ", "Max resolution: 1792x1024", "Total generations: 0", "History: "],
    "error_handling.py": ["Generated image URL: http"],
    "async_client.py": ["Generated image URL: http", "Concurrent: 5 images"],
    "retry_and_cleanup.py": ["Generated image URL: http", "With retry: http"],
    "jobs_and_download.py": ["submitted gen_", "succeeded: progress 1.0", "saved "],
}


def run_example(name: str, url: str, key: str, *args: str) -> str:
    env = {**os.environ, "ORCHESTRATOR_BASE_URL": url, "ORCHESTRATOR_API_KEY": key}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, live_server: LiveServer, tmp_path: Path) -> None:
    args = (str(tmp_path),) if name == "jobs_and_download.py" else ()
    out = run_example(name, live_server.url, live_server.key, *args)
    for expected in EXPECTED[name]:
        assert expected in out, f"{expected!r} not in output of {name}:\n{out}"


def test_error_handling_example_with_a_bad_key(live_server: LiveServer) -> None:
    assert run_example("error_handling.py", live_server.url, "sk-test-nope") == "Invalid API key\n"


def test_error_handling_example_with_an_exhausted_rate_limit(live_server: LiveServer) -> None:
    key = live_server.create_key("example-rate-limited", "--rate-limit", "1")
    from freepik_ai_orchestrator import OrchestrationClient

    with OrchestrationClient(base_url=live_server.url, api_key=key) as spender:
        spender.list_models()
    out = run_example("error_handling.py", live_server.url, key)
    assert out.startswith("Rate limit exceeded. Retry after: "), out
