"""Reading generations: one by id, a project's history, a batch's members, recent timings."""

from __future__ import annotations

from orchestrator.auth.principal import Principal
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation
from orchestrator.db.repositories.generations import GenerationRepository, HistoryFilter
from orchestrator.errors import ErrorCode, NotFound


class ReadService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, principal: Principal, generation_id: str) -> Generation:
        async with self.db.read() as session:
            job = await GenerationRepository(session).get(generation_id, project=principal.project)
        # Another project's generation (or the other mode's) is indistinguishable from a missing one.
        if job is None or job.livemode != principal.livemode:
            raise NotFound(
                f"no generation {generation_id!r}", param="id", code=ErrorCode.GENERATION_NOT_FOUND
            )
        return job

    async def children(self, principal: Principal, generation_id: str) -> list[str]:
        """The jobs that took an image of ``generation_id`` as input (same project)."""
        async with self.db.read() as session:
            return await GenerationRepository(session).children(generation_id, project=principal.project)

    async def history(
        self, principal: Principal, filters: HistoryFilter, cursor: str | None, limit: int
    ) -> tuple[list[Generation], bool]:
        async with self.db.read() as session:
            return await GenerationRepository(session).history(
                project=principal.project,
                livemode=principal.livemode,
                filters=filters,
                cursor=cursor,
                limit=limit,
            )

    async def batch_members(self, principal: Principal, batch_id: str) -> dict[int, Generation]:
        async with self.db.read() as session:
            return await GenerationRepository(session).batch_members(
                project=principal.project, batch_id=batch_id
            )

    async def average_times(self, models: list[str], *, livemode: bool) -> dict[str, float]:
        """Mean processing time of each model's recent successful generations of one mode (all
        projects): a live key is never shown times measured on test renders."""
        async with self.db.read() as session:
            return await GenerationRepository(session).average_times(models=models, livemode=livemode)
