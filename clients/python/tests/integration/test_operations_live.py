"""The image operations, sync and async, against a real running orchestrator (test keys: the
offline renderer): a chain by id with nothing downloaded, its links and prices in history, and
uploads by bytes and by file path."""

from __future__ import annotations

import io
import itertools
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from freepik_ai_orchestrator import (
    AsyncOrchestrationClient,
    GenerationResult,
    NotFoundError,
    OrchestrationClient,
)
from tests.integration.conftest import LiveServer
from tests.support import CLIENT_ROOT, collect, resolve

pytestmark = pytest.mark.integration

# GET /models reports each model's generation prices, not its operations' (those are in the
# server's catalog, server/src/orchestrator/catalog/models.yaml): the upscale and cut-out prices
# are that file's.
UPSCALE_2X_PRICE = 0.10  # magnific-upscaler, 2x
REMOVE_BACKGROUND_PRICE = 0.01  # freepik-remove-background


@pytest.fixture
async def live(kind: str, live_server: LiveServer) -> AsyncIterator[Any]:
    cls = OrchestrationClient if kind == "sync" else AsyncOrchestrationClient
    client = cls(base_url=live_server.url, api_key=live_server.key)
    yield client
    await resolve(client.close())


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_chain_by_id_generate_edit_upscale_twice_remove_background(live: Any) -> None:
    run = uuid.uuid4().hex[:12]
    tags = {"run": run}
    dall_e_2 = await resolve(live.get_model_info("dall-e-2"))
    root = await resolve(live.generate("a red kite", "dall-e-2", size="256x256", metadata=tags))
    edited = await resolve(live.edit("paint it teal", root.id, model="dall-e-2", metadata=tags))
    up1 = await resolve(live.upscale(edited.id, factor=2, metadata=tags))
    up2 = await resolve(live.upscale(f"{up1.id}:0", factor=2, metadata=tags))
    cut = await resolve(live.remove_background(up2.id, metadata=tags))

    for result in (edited, up1, up2, cut):
        assert isinstance(result, GenerationResult) and result.status == "succeeded"
    assert (cut.images[0].width, cut.images[0].height) == (1024, 1024)
    assert cut.images[0].content_type == "image/png"

    # History, newest first: each job's operation, price and the link to the one before it.
    history = await collect(await resolve(live.get_generation_history(metadata=tags, limit=2)))
    assert [g.id for g in history] == [cut.id, up2.id, up1.id, edited.id, root.id]
    generation_price = dall_e_2.pricing["256x256"]["standard"]
    assert [(g.operation, g.cost) for g in history] == [
        ("remove_background", REMOVE_BACKGROUND_PRICE),
        ("upscale", UPSCALE_2X_PRICE),
        ("upscale", UPSCALE_2X_PRICE),
        # dall-e-2 edits are priced like its generations of the same size (the input's, 256x256).
        ("edit", generation_price),
        ("generate", generation_price),
    ]
    chain = [root, edited, up1, up2, cut]
    by_id = {g.id: g for g in history}
    for parent, child in itertools.pairwise(chain):
        item = by_id[child.id]
        assert item.parents == [parent.id]
        assert [(s.role, s.origin, s.generation_id, s.index) for s in item.sources] == [
            ("image", "generation", parent.id, 0)
        ]
    assert by_id[root.id].parents == [] and by_id[root.id].sources == []

    # GET names the children too.
    middle = await resolve(live.get_generation(up1.id))
    assert middle.parents == [edited.id] and middle.children == [up2.id]


async def test_uploads_by_bytes_and_by_file_path(live: Any, tmp_path: Path) -> None:
    tags = {"run": uuid.uuid4().hex[:12]}
    source = _png(96, 64, (200, 40, 40))
    kept = await resolve(
        live.image_to_image("a field", source, model="flux-kontext-pro", strength=0, seed=7, metadata=tags)
    )
    assert [(s.origin, s.width, s.height) for s in kept.sources] == [("upload", 96, 64)]
    assert (kept.images[0].width, kept.images[0].height) == (96, 64)
    assert kept.metadata == tags and kept.parents == []

    path = tmp_path / "photo.png"
    path.write_bytes(_png(128, 128, (30, 120, 200)))
    up = await resolve(live.upscale(path, factor=2, metadata=tags))
    assert [(s.origin, s.width, s.height) for s in up.sources] == [("upload", 128, 128)]
    assert (up.images[0].width, up.images[0].height) == (256, 256)
    assert up.cost == UPSCALE_2X_PRICE

    # Mixed in one edit: a stored image by id, then a file; the mask as bytes (multipart).
    edited = await resolve(
        live.edit("a yellow sun", [kept.id, str(path)], model="gpt-image-1", size="1024x1024", metadata=tags)
    )
    origins = [(s.origin, s.generation_id) for s in edited.sources]
    assert origins == [("generation", kept.id), ("upload", None)]
    assert edited.parents == [kept.id]


async def test_wait_false_and_an_unknown_id(live: Any) -> None:
    job = await resolve(live.remove_background(_png(32, 32, (0, 0, 0)), wait=False))
    assert job.status in ("queued", "running", "succeeded")
    done = await resolve(live.wait_for(job.id))
    assert done.status == "succeeded" and done.operation == "remove_background"
    with pytest.raises(NotFoundError) as info:
        await resolve(live.upscale("gen_doesnotexist0000", factor=2))
    assert info.value.param == "image"


def test_readme_chain_example_runs(live_server: LiveServer, tmp_path: Path) -> None:
    readme = (CLIENT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Image operations\n", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet, "the README's Image operations section has no python snippet"
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
    assert " True " in done.stdout, done.stdout  # the cut-out's parent is the second upscale
    files = [p.name for p in (tmp_path / "cutouts").iterdir()]
    assert len(files) == 1 and re.fullmatch(r"gen_\w+-0\.png", files[0]), files
