"""All SQL about generations (jobs) and their images."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy import inspect as sa_inspect

from orchestrator.core.states import ACTIVE, JobStatus
from orchestrator.db.models import ApiKey, Generation, Image, Source
from orchestrator.db.repositories.base import Repository
from orchestrator.db.repositories.listing import GenerationFilter, filtered, newest_first

_GENERATIONS: Table = Generation.__table__  # type: ignore[assignment]
_IMAGES: Table = Image.__table__  # type: ignore[assignment]
_SOURCES: Table = Source.__table__  # type: ignore[assignment]


def image_rows(generation_id: str, images: Sequence[Image]) -> list[dict[str, Any]]:
    """Image rows of ``generation_id`` for ``images`` (a cache hit's point at the same stored
    files: shared, not copied)."""
    return [
        {
            "generation_id": generation_id,
            "idx": image.idx,
            "storage_key": image.storage_key,
            "thumbnail_key": image.thumbnail_key,
            "content_type": image.content_type,
            "width": image.width,
            "height": image.height,
            "bytes": image.bytes,
        }
        for image in images
    ]


@functools.cache
def _columns() -> tuple[tuple[str, str], ...]:
    """(attribute, column) pairs: the ``meta`` attribute is the ``metadata`` column."""
    return tuple((attr.key, attr.columns[0].key) for attr in sa_inspect(Generation).column_attrs)


def _row(generation: Generation) -> dict[str, Any]:
    return {column: getattr(generation, attr) for attr, column in _columns()}


@dataclass(frozen=True, slots=True)
class HistoryFilter(GenerationFilter):
    """What the history lists: a project's generations, filtered."""

    batch_id: str | None = None
    operation: str | None = None
    source: str | None = None
    """A generation id: jobs that took one of its images as input (its children)."""


class GenerationRepository(Repository):
    async def add(self, generation: Generation) -> None:
        """Insert a new job row (Core SQL: the object stays a plain, session-free value)."""
        await self.session.execute(_GENERATIONS.insert(), _row(generation))

    async def add_sources(self, sources: Sequence[Source]) -> None:
        """Insert a job's input images (in the transaction that inserts the job)."""
        columns = [c.key for c in _SOURCES.columns if c.key != "id"]
        await self.session.execute(
            _SOURCES.insert(), [{c: getattr(source, c) for c in columns} for source in sources]
        )

    async def children(self, generation_id: str, *, project: str) -> list[str]:
        """Ids of the jobs that took one of ``generation_id``'s images as input, oldest first."""
        rows = await self.session.execute(
            select(Source.generation_id)
            .join(Generation, Generation.id == Source.generation_id)
            .where(Source.source_generation_id == generation_id, Generation.project == project)
            .distinct()
            .order_by(Source.generation_id)
        )
        return list(rows.scalars())

    async def active_counts(self) -> dict[tuple[str, str], int]:
        """Queued plus running jobs per (project, principal): the parts of ``core.slots``'s key."""
        owner = func.coalesce(Generation.subject, Generation.api_key_id)
        rows = await self.session.execute(
            select(Generation.project, owner, func.count())
            # A deduplicated follower runs nothing and holds no slot.
            .where(Generation.status.in_(ACTIVE), owner.is_not(None), Generation.cached_from.is_(None))
            .group_by(Generation.project, owner)
        )
        return {(project, subject): int(n) for project, subject, n in rows.all()}

    async def get(self, generation_id: str, *, project: str | None = None) -> Generation | None:
        """One generation; with ``project`` set, only if it belongs to that project."""
        stmt = select(Generation).where(Generation.id == generation_id)
        if project is not None:
            stmt = stmt.where(Generation.project == project)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_many(self, ids: Sequence[str]) -> list[Generation]:
        rows = (await self.session.execute(select(Generation).where(Generation.id.in_(ids)))).scalars()
        by_id = {g.id: g for g in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def batch_members(self, *, project: str, batch_id: str) -> dict[int, Generation]:
        rows = await self.session.execute(
            select(Generation).where(Generation.project == project, Generation.batch_id == batch_id)
        )
        return {g.batch_index: g for g in rows.scalars() if g.batch_index is not None}

    async def claim(
        self,
        *,
        owner: str,
        limit: int,
        now: datetime,
        lease: timedelta,
        deadline: timedelta,
        default_max_concurrent: int,
        for_update: bool,
    ) -> list[Generation]:
        """Atomically move up to ``limit`` queued jobs to running under ``owner``'s lease.

        Oldest first, never past a key's concurrency cap: jobs over the cap stay queued (they wait).
        """
        # Capped per principal: an API key, or a bearer-token subject within its project.
        principal = func.coalesce(Generation.subject, Generation.api_key_id)
        running = (
            select(Generation.project, principal.label("principal"), func.count().label("n"))
            .where(Generation.status == JobStatus.RUNNING)
            .group_by(Generation.project, principal)
            .subquery()
        )
        rank = func.row_number().over(
            partition_by=(Generation.project, principal), order_by=(Generation.created_at, Generation.id)
        )
        cap = func.coalesce(ApiKey.max_concurrent, default_max_concurrent)
        candidates = (
            select(
                Generation.id,
                Generation.created_at,
                rank.label("rank"),
                func.coalesce(running.c.n, 0).label("running"),
                cap.label("cap"),
            )
            .outerjoin(
                running, (running.c.project == Generation.project) & (running.c.principal == principal)
            )
            .outerjoin(ApiKey, ApiKey.id == Generation.api_key_id)
            # A follower (deduplicated onto another job) waits for its leader, never for a worker.
            .where(Generation.status == JobStatus.QUEUED, Generation.cached_from.is_(None))
            .subquery()
        )
        ids = list(
            (
                await self.session.execute(
                    select(candidates.c.id)
                    .where(candidates.c.rank + candidates.c.running <= candidates.c.cap)
                    .order_by(candidates.c.created_at)
                    .limit(limit)
                )
            ).scalars()
        )
        if not ids:
            return []
        if for_update:
            # PostgreSQL: several workers may race for the same rows; each takes what it can lock.
            ids = list(
                (
                    await self.session.execute(
                        select(Generation.id)
                        .where(Generation.id.in_(ids), Generation.status == JobStatus.QUEUED)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            if not ids:
                return []
        result = await self.session.execute(
            update(Generation)
            .where(Generation.id.in_(ids), Generation.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                deadline_at=now + deadline,
                started_at=func.coalesce(Generation.started_at, now),
                attempts=Generation.attempts + 1,
            )
            .returning(Generation.id)
            .execution_options(synchronize_session=False)
        )
        claimed = list(result.scalars())
        self.session.expire_all()
        return await self.get_many(claimed)

    async def extend_leases(self, *, owner: str, ids: Sequence[str], until: datetime) -> set[str]:
        """Heartbeat: push the lease of every job ``owner`` still holds. Returns the ids still held."""
        if not ids:
            return set()
        result = await self.session.execute(
            update(Generation)
            .where(
                Generation.id.in_(ids),
                Generation.lease_owner == owner,
                Generation.status == JobStatus.RUNNING,
            )
            .values(lease_expires_at=until)
            .returning(Generation.id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars())

    async def set_progress(self, generation_id: str, owner: str, progress: float) -> None:
        await self.session.execute(
            update(Generation)
            .where(
                Generation.id == generation_id,
                Generation.lease_owner == owner,
                Generation.status == JobStatus.RUNNING,
            )
            .values(progress=progress)
            .execution_options(synchronize_session=False)
        )

    async def finish(
        self,
        generation_id: str,
        owner: str,
        values: dict[str, Any],
        images: Sequence[Image] = (),
        *,
        attempt: int | None = None,
    ) -> bool:
        """Record a terminal state, only if ``owner`` still holds the job and it is still running.

        A job canceled or taken over meanwhile is left alone (returns False), so a late worker can
        never overwrite another outcome or charge a second time. ``attempt`` fences by attempt
        number too: even the same process cannot finish a job it has since claimed again.
        """
        table = _GENERATIONS
        fence = [
            table.c.id == generation_id,
            table.c.lease_owner == owner,
            table.c.status == JobStatus.RUNNING,
        ]
        if attempt is not None:
            fence.append(table.c.attempts == attempt)
        result = await self.session.execute(
            table.update().where(*fence).values(**values, lease_owner=None, lease_expires_at=None)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if images:
            await self.session.execute(_IMAGES.insert(), image_rows(generation_id, images))
        return True

    async def cancel(
        self, generation_id: str, values: Mapping[str, Any], *, only_queued: bool = False
    ) -> bool:
        """Record a cancel (``values``) on a job still queued or running, or only if still queued
        (False: it already ended, or a worker took it)."""
        statuses = (JobStatus.QUEUED,) if only_queued else ACTIVE
        result = await self.session.execute(
            update(Generation)
            .where(Generation.id == generation_id, Generation.status.in_(statuses))
            .values(**values, lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def recover_expired(
        self, *, now: datetime, max_attempts: int, failed_values: Mapping[str, Any]
    ) -> tuple[list[str], list[str]]:
        """Jobs whose worker vanished (lease expired): requeue them, or record ``failed_values``
        after ``max_attempts`` takeovers or past their deadline. Returns (requeued, failed) ids."""
        expired = (Generation.status == JobStatus.RUNNING) & (Generation.lease_expires_at < now)
        give_up = or_(Generation.attempts >= max_attempts, Generation.deadline_at < now)
        failed = list(
            (
                await self.session.execute(
                    update(Generation)
                    .where(expired, give_up)
                    .values(**failed_values, lease_owner=None, lease_expires_at=None)
                    .returning(Generation.id)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
        )
        requeued = list(
            (
                await self.session.execute(
                    update(Generation)
                    .where(expired)
                    .values(status=JobStatus.QUEUED, lease_owner=None, lease_expires_at=None, progress=0.0)
                    .returning(Generation.id)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
        )
        return requeued, failed

    async def history(
        self, *, project: str, livemode: bool, filters: HistoryFilter, cursor: str | None, limit: int
    ) -> tuple[list[Generation], bool]:
        """Newest first. Ids are time-ordered, so the cursor is simply the last id seen."""
        stmt = select(Generation).where(Generation.project == project, Generation.livemode == livemode)
        stmt = filtered(stmt, filters, self.session)
        if filters.batch_id:
            stmt = stmt.where(Generation.batch_id == filters.batch_id)
        if filters.operation:
            stmt = stmt.where(Generation.operation == filters.operation)
        if filters.source:
            stmt = stmt.where(
                Generation.id.in_(
                    select(Source.generation_id).where(Source.source_generation_id == filters.source)
                )
            )
        return await newest_first(self.session, stmt, cursor, limit)

    async def average_times(
        self, *, models: Sequence[str], livemode: bool, sample: int = 50
    ) -> dict[str, float]:
        """Mean processing time over each model's most recent successful generations of one mode
        (test renders never shape what a live key is told, nor the reverse)."""
        ranked = (
            select(
                Generation.model,
                Generation.processing_time,
                func.row_number()
                .over(partition_by=Generation.model, order_by=Generation.id.desc())
                .label("rank"),
            )
            .where(
                Generation.status == JobStatus.SUCCEEDED,
                Generation.livemode == livemode,
                Generation.model.in_(models),
                Generation.processing_time.is_not(None),
            )
            .subquery()
        )
        rows = await self.session.execute(
            select(ranked.c.model, func.avg(ranked.c.processing_time))
            .where(ranked.c.rank <= sample)
            .group_by(ranked.c.model)
        )
        return {model: float(avg) for model, avg in rows.all() if avg is not None}

    async def committed_spend(self, *, api_key_id: str, since: datetime) -> int:
        """Micro-dollars a key has spent or reserved since ``since`` (queued and running count)."""
        value = await self.session.scalar(
            select(func.coalesce(func.sum(Generation.cost_micros), 0)).where(
                Generation.api_key_id == api_key_id,
                Generation.created_at >= since,
                Generation.status.in_((*ACTIVE, JobStatus.SUCCEEDED)),
            )
        )
        return int(value or 0)

    async def pool_spend(self, *, pool_id: str, since: datetime) -> int:
        """:meth:`committed_spend` of a budget pool: its owner key and every key drawing from it."""
        members = select(ApiKey.id).where(or_(ApiKey.id == pool_id, ApiKey.budget_pool_id == pool_id))
        value = await self.session.scalar(
            select(func.coalesce(func.sum(Generation.cost_micros), 0)).where(
                Generation.api_key_id.in_(members),
                Generation.created_at >= since,
                Generation.status.in_((*ACTIVE, JobStatus.SUCCEEDED)),
            )
        )
        return int(value or 0)

    async def count_queued(self) -> int:
        """Jobs waiting for a worker, across every project and process."""
        return int(
            await self.session.scalar(
                select(func.count()).where(Generation.status == "queued", Generation.cached_from.is_(None))
            )
            or 0
        )
