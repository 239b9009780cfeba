"""Listing a project's generations as the history and the gallery do: the filters both offer,
and newest-first pages (ids are time-ordered, so the cursor is simply the last id seen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.json_values import metadata_value
from orchestrator.db.models import Generation


@dataclass(frozen=True, slots=True)
class GenerationFilter:
    """The filters every list of generations takes; unset (None, empty) ones match everything."""

    query: str | None = None
    """Text the prompt contains (case-insensitive; no wildcards)."""
    model: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    """(key, value) pairs the generation's metadata must all have."""


def _like(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere, its wildcards escaped (with ``escape="\\"``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(
    stmt: Select[Generation], filters: GenerationFilter, session: AsyncSession
) -> Select[Generation]:
    """``stmt`` narrowed to the generations ``filters`` match."""
    if filters.query:
        stmt = stmt.where(Generation.prompt.ilike(_like(filters.query), escape="\\"))
    if filters.model:
        stmt = stmt.where(Generation.model == filters.model)
    if filters.status:
        stmt = stmt.where(Generation.status == filters.status)
    if filters.since:
        stmt = stmt.where(Generation.created_at >= filters.since)
    if filters.until:
        stmt = stmt.where(Generation.created_at < filters.until)
    dialect = session.get_bind().dialect.name
    for key, value in filters.metadata:
        stmt = stmt.where(metadata_value(key, dialect) == value)
    return stmt


async def newest_first(
    session: AsyncSession, stmt: Select[Generation], cursor: str | None, limit: int
) -> tuple[list[Generation], bool]:
    """The page of ``stmt``'s generations after ``cursor``, and whether another page follows."""
    if cursor:
        stmt = stmt.where(Generation.id < cursor)
    rows = list((await session.execute(stmt.order_by(Generation.id.desc()).limit(limit + 1))).scalars())
    return rows[:limit], len(rows) > limit
