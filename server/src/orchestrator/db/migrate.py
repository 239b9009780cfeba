"""Run Alembic migrations programmatically (used by `orchestrator migrate` and at start-up).

Alembic costs about half a second of CPU to import and load its scripts, and almost every start
finds the database already at head. So one query first reads ``alembic_version`` and compares it
with the newest revision read from the scripts' file names and ``revision`` lines; Alembic runs
only when they differ (or when anything about the scripts is unclear, e.g. several heads).
"""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.*?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"""^(['"])([^'"]+)\1$""")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


@functools.cache
def script_head(versions: Path = MIGRATIONS_DIR / "versions") -> str | None:
    """The newest revision of the migration scripts, read without Alembic; None when it is not
    one plain answer (a script it cannot read, a merge, several heads), so Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        found = dict(_ASSIGNMENT.findall(script.read_text(encoding="utf-8")))
        own = _QUOTED.match(found.get("revision", ""))
        if own is None:
            return None
        revisions.add(own.group(2))
        parent = found.get("down_revision", "None")
        if parent != "None":
            quoted = _QUOTED.match(parent)
            if quoted is None:  # a merge names a tuple of parents
                return None
            parents.add(quoted.group(2))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


async def _at_head(connection: AsyncConnection) -> bool:
    head = script_head()
    if head is None:
        return False
    try:
        rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:  # no alembic_version table yet: a new database
        return False
    return [row[0] for row in rows] == [head]


def _upgrade(connection: Connection, config: Config) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_to_head(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; safe (and cheap) to call on every start."""
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            if await _at_head(connection):
                return
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config(url))
    finally:
        await engine.dispose()


def upgrade_to_head_sync(url: str) -> None:
    asyncio.run(upgrade_to_head(url))
