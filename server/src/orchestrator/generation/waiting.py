"""Waiting for a job: until it ends (``wait``) or event by event (``events``, for SSE streams).

Both listen to the job's events and share one fallback: when no event comes within the patience
below, the row is re-read, since another process may have moved the job without its events
reaching this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from orchestrator.core.states import TERMINAL, JobStatus
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.generation.events import EventHub, JobEvent


class WaitService:
    def __init__(self, *, db: Database, hub: EventHub, poll_interval: float) -> None:
        self.db = db
        self.hub = hub
        self.poll_interval = poll_interval

    async def load(self, generation_id: str) -> Generation:
        """The job's current row (any project: callers have already checked access)."""
        async with self.db.read() as session:
            job = await GenerationRepository(session).get(generation_id)
        assert job is not None, "jobs are never deleted"
        return job

    async def _next(
        self, queue: asyncio.Queue[JobEvent], generation_id: str, limit: float
    ) -> JobEvent | None:
        """The job's next event, or None when none came in time: then re-read the row.

        A job running in this process publishes its end here, so it is waited for as long as the
        caller allows; any other job only as long as the hub's backstop.
        """
        if not self.hub.reports(generation_id):
            limit = min(limit, self.hub.backstop(self.poll_interval))
        try:
            return await asyncio.wait_for(queue.get(), limit)
        except TimeoutError:
            return None

    async def wait(self, job: Generation, max_wait: float) -> Generation:
        """Until ``job`` is terminal or ``max_wait`` seconds pass; returns its latest state.

        A job finished in this process arrives with its terminal event, so the common case reads
        nothing back from the database.
        """
        queue = self.hub.subscribe(job.id)
        try:
            loop = asyncio.get_running_loop()
            end = loop.time() + max_wait
            current = job
            if current.status not in TERMINAL and not self.hub.reports(job.id) and self.hub.shared:
                # It may have finished elsewhere before we subscribed: its event is gone.
                current = await self.load(job.id)
            while current.status not in TERMINAL:
                remaining = end - loop.time()
                if remaining <= 0:
                    return await self.load(job.id)
                event = await self._next(queue, job.id, remaining)
                if event is None:
                    current = await self.load(job.id)
                elif event.terminal:
                    current = event.generation or await self.load(job.id)
                elif event.status != JobStatus.RUNNING:  # "lost": stopped here, maybe resumed elsewhere
                    current = await self.load(job.id)
            return current
        finally:
            self.hub.unsubscribe(job.id, queue)

    async def events(
        self, generation_id: str, heartbeat: float = 15.0
    ) -> AsyncIterator[tuple[str, Generation | None]]:
        """(event name, job) pairs until the job is terminal; a ``None`` job means keep-alive."""
        queue = self.hub.subscribe(generation_id)
        try:
            job = await self.load(generation_id)
            last = (job.status, job.progress)
            yield job.status, job
            while job.status not in TERMINAL:
                event = await self._next(queue, generation_id, heartbeat)
                if event is not None and not event.terminal and event.status == JobStatus.RUNNING:
                    job.status, job.progress = JobStatus.RUNNING, event.progress
                else:
                    job = await self.load(generation_id)
                if (job.status, job.progress) != last:
                    last = (job.status, job.progress)
                    yield job.status, job
                elif event is None:
                    yield "keepalive", None
        finally:
            self.hub.unsubscribe(generation_id, queue)
