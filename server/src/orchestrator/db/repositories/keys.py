"""All SQL about API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from orchestrator.db.models import ApiKey
from orchestrator.db.repositories.base import Repository


class KeyRepository(Repository):
    async def by_hash(self, key_hash: str) -> ApiKey | None:
        return (
            await self.session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
        ).scalar_one_or_none()

    async def get(self, key_id: str, *, project: str | None = None, mode: str | None = None) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.id == key_id)
        if project is not None:
            stmt = stmt.where(ApiKey.project == project)
        if mode is not None:
            stmt = stmt.where(ApiKey.mode == mode)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def all(self, *, project: str | None = None, mode: str | None = None) -> list[ApiKey]:
        stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if project is not None:
            stmt = stmt.where(ApiKey.project == project)
        if mode is not None:
            stmt = stmt.where(ApiKey.mode == mode)
        return list((await self.session.execute(stmt)).scalars())

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(ApiKey)) or 0)

    async def revoke(self, key: ApiKey, now: datetime) -> None:
        key.revoked_at = key.revoked_at or now
        await self.session.flush()

    async def touch(self, key_ids: list[str], now: datetime) -> None:
        await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id.in_(key_ids))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    async def budget_micros(self, key_id: str) -> int | None:
        """A key's monthly budget (None: unlimited, or no such key)."""
        value = await self.session.scalar(select(ApiKey.monthly_budget_micros).where(ApiKey.id == key_id))
        return None if value is None else int(value)

    async def lock(self, key_id: str) -> None:
        """Hold the key's row until the transaction ends, serialising its writers across processes
        (PostgreSQL ``FOR UPDATE``; SQLite serialises every writer already and ignores it)."""
        await self.session.execute(select(ApiKey.id).where(ApiKey.id == key_id).with_for_update())
