"""Against real servers: call budgets, downloads into folders, the README's async example,
``with_options`` and raw responses. Timing checks use generous margins (real clocks, a shared
machine); the exact arithmetic is pinned by the fake-clock unit tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from freepik_ai_orchestrator import APITimeoutError, AsyncOrchestrationClient, OrchestrationClient
from tests.integration.conftest import LiveServer
from tests.support import CLIENT_ROOT, resolve

pytestmark = pytest.mark.integration

SLACK = 1.0
"""Seconds a real call may overrun its budget here (process scheduling, a loaded CI box)."""


def _client(kind: str, server: LiveServer, **kwargs: Any) -> Any:
    cls = OrchestrationClient if kind == "sync" else AsyncOrchestrationClient
    return cls(base_url=server.url, api_key=server.key, **kwargs)


@pytest.fixture
async def live(kind: str, live_server: LiveServer) -> AsyncIterator[Any]:
    client = _client(kind, live_server)
    yield client
    await resolve(client.close())


# ------------------------------------------------------------------------------ budgets


@pytest.mark.parametrize("bound", ["timeout", "wait_timeout"])
async def test_generate_on_a_slow_job_ends_within_its_budget(
    kind: str, bound: str, slow_server: LiveServer
) -> None:
    client = _client(kind, slow_server)  # jobs take 1.5 s; the server answers 202 after 0.3 s
    try:
        start = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await resolve(client.generate(prompt="budget", model="dall-e-3", **{bound: 0.8}))
        elapsed = time.monotonic() - start
        assert 0.7 <= elapsed < 0.8 + SLACK, elapsed
        job_id = info.value.generation_id
        assert job_id and job_id.startswith("gen_")
        # The job kept running on the server and can be waited for.
        done = await resolve(client.wait_for(job_id, timeout=30))
        assert done.status == "succeeded"
    finally:
        await resolve(client.close())


async def test_prefer_wait_keeps_a_patient_server_within_the_budget(
    kind: str, patient_server: LiveServer
) -> None:
    # The server would hold POST /generate for the whole 4 s job; the call has 2.
    client = _client(kind, patient_server, timeout=2)
    try:
        start = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await resolve(client.generate(prompt="patience", model="dall-e-3"))
        elapsed = time.monotonic() - start
        assert elapsed < 2 + SLACK, elapsed
        assert info.value.generation_id  # answered 202 in time, so the job is known
        # A budget that fits the job returns it.
        start = time.monotonic()
        done = await resolve(client.generate(prompt="patience", model="dall-e-3", timeout=20))
        assert done.status == "succeeded" and time.monotonic() - start < 20
    finally:
        await resolve(client.close())


# ------------------------------------------------------------------------------ downloads


async def test_download_every_image_into_a_new_folder(live: Any, tmp_path: Path) -> None:
    result = await resolve(live.generate(prompt="two posters", model="dall-e-2", n=2, size="512x512"))
    assert len(result.images) == 2
    folder = tmp_path / "out"
    paths = await resolve(live.download(result, folder))
    assert paths == [folder / f"{result.id}-0.png", folder / f"{result.id}-1.png"]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (512, 512)
    assert paths[0].read_bytes() != paths[1].read_bytes()
    with pytest.raises(FileExistsError, match=re.escape(str(paths[0]))):
        await resolve(live.download(result, folder))
    assert await resolve(live.download(result, folder, overwrite=True)) == paths
    assert sorted(folder.iterdir()) == paths


def test_readme_async_example_saves_five_files(live_server: LiveServer, tmp_path: Path) -> None:
    readme = (CLIENT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Async\n", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet, "the README's Async section has no python snippet"
    env = {**os.environ, "ORCHESTRATOR_BASE_URL": live_server.url, "ORCHESTRATOR_API_KEY": live_server.key}
    done = subprocess.run(
        [sys.executable, "-c", snippet.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) == 5 and all(re.fullmatch(r"gen_\w+-0\.png", f) for f in files), files


def test_readme_quick_start_runs_twice(live_server: LiveServer, tmp_path: Path) -> None:
    readme = (CLIENT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet, "the README's Quick start has no python snippet"
    code = snippet.group(1).replace('"http://localhost:8000"', repr(live_server.url))
    code = code.replace('"sk-test-…"', repr(live_server.key))
    assert live_server.key in code, "the snippet's key placeholder changed"
    for run in (1, 2):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"run {run}: {done.stderr}"
    files = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert len(files) == 2 and all(re.fullmatch(r"gen_\w+-0\.png", f) for f in files), files


# ------------------------------------------------------------------------------ options, raw


async def test_with_options_and_raw_response(live: Any) -> None:
    quick = live.with_options(timeout=30, max_retries=0)
    assert quick._http is live._http
    raw = await resolve(quick.with_raw_response.generate(prompt="raw", model="dall-e-3"))
    assert raw.status_code == 200
    assert raw.request_id and raw.request_id.startswith("req_")
    assert int(raw.headers["RateLimit-Remaining"]) >= 0 and raw.retries_taken == 0
    generation = raw.parse()
    assert generation.status == "succeeded" and generation._request_id == raw.request_id
    models = await resolve(live.with_raw_response.list_models(extra_query={"unknown": "ignored"}))
    assert models.status_code == 200 and any(m.name == "dall-e-3" for m in models.parse())
    await resolve(quick.close())
    assert not live._http.is_closed
