"""Images on local disk under the data directory (directories 0700, files 0600)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import uuid
from pathlib import Path

from orchestrator.storage.base import StorageError

_DIR_MODE = 0o700
_FILE_MODE = 0o600


def _failure(action: str, exc: OSError) -> StorageError:
    # The errno name says what went wrong (ENOSPC, EROFS, EACCES, ...); the path stays in the logs.
    reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return StorageError(f"could not {action} an image ({reason})")


def _make_dirs(path: Path) -> None:
    # Path.mkdir(parents=True) gives missing parents the default mode, not ours.
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=_DIR_MODE)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def start(self) -> None:
        """Nothing to open: the folder is made on the first write."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError("storage key escapes the storage root")
        return path

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            _make_dirs(path.parent)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # a full disk must not also fill up with leftovers
            raise _failure("store", exc) from exc

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _failure("read", exc) from exc

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def check(self) -> None:
        def probe() -> None:
            _make_dirs(self.root)
            probe_path = self.root / f".readyz.{uuid.uuid4().hex}"
            try:
                fd = os.open(probe_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(b"ok")
            finally:
                with contextlib.suppress(OSError):
                    probe_path.unlink(missing_ok=True)

        await asyncio.to_thread(probe)
