"""Where images live. Local disk now; S3-compatible object storage implements the same protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class StorageError(OSError):
    """Storage could not do its job (disk full, read-only, unreachable). The message is safe to
    show: it names what failed, never a path or a credential."""


class Storage(Protocol):
    async def start(self) -> None:
        """Open connections (called once by the app's lifespan before the first request)."""
        ...

    async def aclose(self) -> None:
        """Release what :meth:`start` opened."""
        ...

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` atomically (readers never see a partial object)."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; ``FileNotFoundError`` if absent."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to serve directly, when the backend has one."""
        ...

    async def delete(self, key: str) -> None: ...

    async def check(self) -> None:
        """Raise if the backend cannot be written to (readiness)."""
        ...
