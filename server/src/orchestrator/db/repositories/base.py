"""What every repository has: the session of its caller's transaction, and inserting one row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import Base


class Repository:
    """SQL over one session; a repository lives as long as the transaction that made it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, row: Base) -> None:
        """Insert ``row`` now: flushed, so its constraint errors surface here, not at commit."""
        self.session.add(row)
        await self.session.flush()
