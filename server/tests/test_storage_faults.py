"""Disk faults are reported as retryable storage errors, leave nothing behind, and fail readiness."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap

import httpx
import pytest

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

GEN = {"prompt": "a quiet harbour", "model": "dall-e-3"}


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_unwritable_images_folder_is_a_retryable_storage_error(server, api: httpx.AsyncClient) -> None:
    images = server.settings.data_dir / "images"
    shutil.rmtree(images, ignore_errors=True)
    images.write_bytes(b"")  # a file where the folder should be: no write can succeed, even as root
    try:
        response = await api.post("/api/v1/generate", json=GEN)
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("storage_error", "storage_error")
        assert str(server.settings.data_dir) not in error["message"] and "/" not in error["message"]
        job = (await api.get(f"/api/v1/generations/{error['generation_id']}")).json()
        assert job["status"] == "failed" and job["cost"] == 0
        ready = await api.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["storage"].startswith("error")
    finally:
        images.unlink()
    assert (await api.get("/readyz")).status_code == 200
    assert (await api.post("/api/v1/generate", json=GEN)).status_code == 200


def test_a_full_disk_leaves_no_temporary_files(tmp_path) -> None:
    """A real write failure (the file-size limit stands in for a full disk): no `.tmp` remains."""
    root = tmp_path / "images"
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        from orchestrator.storage.base import StorageError
        from orchestrator.storage.local import LocalStorage
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            LocalStorage(Path({str(root)!r}))._write("ab/gen_x/0-0.png", b"x" * 100_000)
        except StorageError as exc:
            print(exc)
            sys.exit(0)
        sys.exit("the write did not fail")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "EFBIG" in out.stdout and str(root) not in out.stdout
    assert [p.name for p in root.rglob("*") if p.is_file()] == []


async def test_readiness_notices_a_deleted_or_replaced_sqlite_file(server, api: httpx.AsyncClient) -> None:
    if not server.settings.is_sqlite:
        pytest.skip("SQLite only: PostgreSQL has no database file")
    assert (await api.get("/readyz")).status_code == 200
    database = server.settings.db_url.split("///", 1)[1]
    moved = database + ".moved"
    os.rename(database, moved)
    try:
        missing = await api.get("/readyz")
        assert missing.status_code == 503 and missing.json()["checks"]["database"].startswith("error")
        shutil.copyfile(moved, database)  # same content, but not the file this process opened
        replaced = await api.get("/readyz")
        assert replaced.status_code == 503
    finally:
        os.replace(moved, database)
    assert (await api.get("/readyz")).status_code == 200


async def test_data_directory_and_files_are_private(server, api: httpx.AsyncClient) -> None:
    made = (await api.post("/api/v1/generate", json=GEN)).json()
    data = server.settings.data_dir
    assert _mode(data) == 0o700
    assert _mode(data / "images") == 0o700
    stored = [p for p in (data / "images").rglob("*") if p.is_file()]
    assert stored and all(_mode(p) == 0o600 for p in stored)
    assert all(_mode(p) == 0o700 for p in (data / "images").rglob("*") if p.is_dir())
    if server.settings.is_sqlite:
        database = server.settings.db_url.split("///", 1)[1]
        assert _mode(database) == 0o600
    assert made["status"] == "succeeded"
