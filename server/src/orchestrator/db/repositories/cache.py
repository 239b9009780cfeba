"""All SQL of the result cache: finding a stored result or an active leader, sharing images, and
ending a leader's followers with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, exists, func, select, update

from orchestrator.core.states import ACTIVE, JobStatus
from orchestrator.db.models import GalleryMark, Generation, Image
from orchestrator.db.repositories.base import Repository
from orchestrator.db.repositories.generations import image_rows

_IMAGES: Table = Image.__table__  # type: ignore[assignment]


class CacheRepository(Repository):
    async def find_source(self, project: str, livemode: bool, key: str, since: datetime) -> Generation | None:
        """The newest succeeded job with ``key`` that finished since ``since`` and is not deleted
        from the gallery (its files may be purged)."""
        deleted = exists().where(
            GalleryMark.generation_id == Generation.id, GalleryMark.deleted_at.is_not(None)
        )
        stmt = (
            select(Generation)
            .where(
                Generation.project == project,
                Generation.livemode == livemode,
                Generation.cache_key == key,
                Generation.status == JobStatus.SUCCEEDED,
                Generation.finished_at >= since,
                ~deleted,
            )
            .order_by(Generation.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def find_leader(self, project: str, livemode: bool, key: str, *, lock: bool) -> Generation | None:
        """The active job that calls the provider for ``key``. With ``lock`` (PostgreSQL) its row is
        locked until the caller commits, so the leader cannot end between this read and the
        follower's insert: its ending then waits, and sees the new follower."""
        stmt = select(Generation).where(
            Generation.project == project,
            Generation.livemode == livemode,
            Generation.cache_key == key,
            Generation.status.in_(ACTIVE),
            Generation.cached_from.is_(None),
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt.limit(1))).scalar_one_or_none()

    async def share_images(self, generation_id: str, images: Sequence[Image]) -> None:
        if images:
            await self.session.execute(_IMAGES.insert(), image_rows(generation_id, images))

    async def end_followers(
        self, leader_id: str, values: Mapping[str, Any], images: Sequence[Image] = ()
    ) -> list[Generation]:
        """End every follower still waiting on ``leader_id`` with ``values`` (sharing ``images``);
        returns their final rows."""
        ids = list(
            (
                await self.session.execute(
                    update(Generation)
                    .where(Generation.cached_from == leader_id, Generation.status.in_(ACTIVE))
                    .values(**values)
                    .returning(Generation.id)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
        )
        if not ids:
            return []
        if images:
            await self.session.execute(
                _IMAGES.insert(), [row for gid in ids for row in image_rows(gid, images)]
            )
        rows = await self.session.execute(
            select(Generation).where(Generation.id.in_(ids)).execution_options(populate_existing=True)
        )
        return list(rows.scalars())

    async def shared_keys(self, keys: Sequence[str], *, besides: str) -> set[str]:
        """Which of ``keys`` other generations' images still point at (a cache hit shares files)."""
        if not keys:
            return set()
        storage = select(Image.storage_key).where(Image.storage_key.in_(keys), Image.generation_id != besides)
        thumbs = select(Image.thumbnail_key).where(
            Image.thumbnail_key.in_(keys), Image.generation_id != besides
        )
        found = await self.session.execute(storage.union(thumbs))
        return {str(k) for k in found.scalars()}

    async def has_active_followers(self, leader_id: str) -> bool:
        value = await self.session.scalar(
            select(func.count()).where(Generation.cached_from == leader_id, Generation.status.in_(ACTIVE))
        )
        return bool(value)
