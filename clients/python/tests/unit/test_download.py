"""``download()``: folder or file destinations, one file per image, never a silent overwrite."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import GenerationResponse
from tests.support import BASE_URL, FakeTime, MockServer, generation, make_client, resolve


def _gen(id: str, count: int = 1, content_type: str | None = "image/png") -> GenerationResponse:
    images = [
        {
            "url": f"{BASE_URL}/api/v1/images/{id[-2:]}/{id}/1-{i}.png?sig=s",
            "thumbnail_url": f"{BASE_URL}/api/v1/images/{id[-2:]}/{id}/1-{i}.thumb.webp?sig=s",
            "content_type": content_type,
        }
        for i in range(count)
    ]
    return GenerationResponse.model_validate(
        generation(id, images=images, image_url=images[0]["url"], thumbnail_url=images[0]["thumbnail_url"])
    )


def _echo(request: httpx.Request) -> httpx.Response:
    """Serve each image's own path as its bytes, so files can be told apart."""
    kind = "image/webp" if request.url.path.endswith(".webp") else "image/png"
    return httpx.Response(200, content=request.url.path.encode(), headers={"Content-Type": kind})


@pytest.mark.parametrize("dest", ["out", "out/", os.path.join("deeper", "out") + os.sep])
async def test_a_missing_folder_is_created_with_one_file_per_image(
    dest: str, client: Any, server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server.fallback = _echo
    paths = await resolve(client.download(_gen("gen_A1", count=3), dest))
    folder = Path(dest)
    assert folder.is_dir()
    assert paths == [folder / "gen_A1-0.png", folder / "gen_A1-1.png", folder / "gen_A1-2.png"]
    assert [p.read_bytes() for p in paths] == [
        f"/api/v1/images/A1/gen_A1/1-{i}.png".encode() for i in range(3)
    ]
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in paths]  # no leftovers


async def test_five_generations_give_five_files(client: Any, server: MockServer, tmp_path: Path) -> None:
    server.fallback = _echo
    results = [_gen(f"gen_{i:02d}") for i in range(5)]
    for result in results:
        await resolve(client.download(result, tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"gen_{i:02d}-0.png" for i in range(5)]


async def test_concurrent_async_downloads_into_one_new_folder(
    server: MockServer, fake_time: FakeTime, tmp_path: Path
) -> None:
    client = make_client("async", server, fake_time)
    server.fallback = _echo
    results = [_gen(f"gen_{i:02d}", count=2) for i in range(5)]
    written = await asyncio.gather(*(client.download(r, tmp_path / "out") for r in results))
    assert len({p for paths in written for p in paths}) == 10
    assert len(list((tmp_path / "out").iterdir())) == 10


async def test_never_overwrites_unless_asked(client: Any, server: MockServer, tmp_path: Path) -> None:
    server.fallback = _echo
    result = _gen("gen_B2", count=2)
    taken = tmp_path / "gen_B2-1.png"
    taken.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match=r"gen_B2-1\.png already exists; pass overwrite=True") as info:
        await resolve(client.download(result, tmp_path))
    assert info.value.filename == str(taken)
    assert server.requests == []  # checked before anything is fetched
    assert taken.read_bytes() == b"mine" and not (tmp_path / "gen_B2-0.png").exists()
    paths = await resolve(client.download(result, tmp_path, overwrite=True))
    assert taken.read_bytes() == b"/api/v1/images/B2/gen_B2/1-1.png" and len(paths) == 2


async def test_a_file_that_appears_mid_download_is_not_clobbered(
    client: Any, server: MockServer, tmp_path: Path
) -> None:
    target = tmp_path / "race.png"

    def racing(request: httpx.Request) -> httpx.Response:
        target.write_bytes(b"someone else's")  # another process takes the name meanwhile
        return _echo(request)

    server.fallback = racing
    with pytest.raises(FileExistsError, match=r"race\.png"):
        await resolve(client.download(_gen("gen_C3"), target))
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["race.png"]  # no partial file left


async def test_an_explicit_file_path(client: Any, server: MockServer, tmp_path: Path) -> None:
    server.fallback = _echo
    result = _gen("gen_D4", count=2)
    [path] = await resolve(client.download(result.images[1], tmp_path / "new" / "second.png"))
    assert path == tmp_path / "new" / "second.png"
    assert path.read_bytes().endswith(b"/1-1.png")
    with pytest.raises(ValueError, match="has 2 images: pass a folder"):
        await resolve(client.download(result, tmp_path / "both.png"))


async def test_names_of_single_images_urls_and_thumbnails(
    client: Any, server: MockServer, tmp_path: Path
) -> None:
    server.fallback = _echo
    result = _gen("gen_E5", count=2)
    assert await resolve(client.download(result.images[1], tmp_path)) == [tmp_path / "gen_E5-1.png"]
    thumbs = await resolve(client.download(result, tmp_path, thumbnail=True))
    assert thumbs == [tmp_path / "gen_E5-0-thumb.webp", tmp_path / "gen_E5-1-thumb.webp"]
    # A bare URL keeps its own file name.
    assert await resolve(client.download("https://cdn.example/x/poster.jpg?sig=1", tmp_path)) == [
        tmp_path / "poster.jpg"
    ]


async def test_extension_from_the_content_type(client: Any, server: MockServer, tmp_path: Path) -> None:
    server.add(httpx.Response(200, content=b"jpg", headers={"Content-Type": "image/jpeg"}))
    result = GenerationResponse.model_validate(
        generation("gen_F6", images=[{"url": "https://cdn.example/blob/abc", "content_type": "image/jpeg"}])
    )
    assert await resolve(client.download(result, tmp_path)) == [tmp_path / "gen_F6-0.jpg"]
    # Unknown up front: the response's Content-Type decides.
    server.add(httpx.Response(200, content=b"webp", headers={"Content-Type": "image/webp"}))
    assert await resolve(client.download("https://cdn.example/blob/xyz", tmp_path)) == [tmp_path / "xyz.webp"]


async def test_a_file_where_the_folder_should_be(client: Any, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(FileExistsError, match="is not a folder"):
        await resolve(client.download(_gen("gen_G7"), tmp_path / "out"))


async def test_bad_sources(client: Any, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="takes a URL"):
        await resolve(client.download(42, tmp_path))
    with pytest.raises(ValueError, match="destination"):
        await resolve(client.download("https://cdn.example/a.png", ""))
