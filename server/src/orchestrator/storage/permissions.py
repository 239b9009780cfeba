"""Keeping the data directory private: it holds the database, the signing secret and every image."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import make_url


def private_dir(path: Path) -> None:
    """Create ``path`` (0700), or take group and other permissions away from an existing one."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def private_sqlite_files(url: str) -> None:
    """Make a SQLite database and its WAL files 0600 (SQLite gives new WAL files the same mode)."""
    database = make_url(url).database
    if not url.startswith("sqlite") or not database or database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(database + suffix, 0o600)
