"""The in-process worker pool: claims queued jobs, runs them, keeps their leases alive, and
recovers jobs whose worker vanished.

Jobs are claimed from the database (never handed over in memory), so any number of processes can
share one queue: a job submitted here usually runs here at once because submission wakes the local
dispatcher, but a job in another process's queue is found by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.engine import Database
from orchestrator.db.models import Generation
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.generation.events import EventHub, JobEvent
from orchestrator.generation.runner import JobRunner, now_utc
from orchestrator.generation.states import JobStatus
from orchestrator.webhooks.outbox import enqueue_generation_events

logger = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        *,
        db: Database,
        runner: JobRunner,
        hub: EventHub,
        concurrency: int,
        lease_seconds: float,
        deadline_seconds: float,
        max_attempts: int,
        poll_interval: float,
        default_max_concurrent: int,
    ) -> None:
        self.db = db
        self.runner = runner
        self.hub = hub
        self.concurrency = concurrency
        self.lease_duration = timedelta(seconds=lease_seconds)
        self.deadline = timedelta(seconds=deadline_seconds)
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.default_max_concurrent = default_max_concurrent
        self.owner = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.active: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        await self.recover()
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="jobs-dispatch"),
            asyncio.create_task(self._heartbeat_loop(), name="jobs-heartbeat"),
            asyncio.create_task(self._recovery_loop(), name="jobs-recovery"),
        ]

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; give running jobs ``grace`` seconds, then leave the rest to lease recovery."""
        self._stopping = True
        self.hub.wake_local_workers()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self.active:
            _, pending = await asyncio.wait(list(self.active.values()), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    @property
    def has_capacity(self) -> bool:
        return not self._stopping and len(self.active) < self.concurrency

    def lease(self, job: Generation) -> None:
        """Mark a job that is about to be inserted as already claimed by this process.

        Submission uses this to skip the queue when a slot is free: the row is still written
        before any provider is called, but the insert and the claim are one transaction.
        """
        now = now_utc()
        job.status = JobStatus.RUNNING
        job.lease_owner = self.owner
        job.lease_expires_at = now + self.lease_duration
        job.deadline_at = now + self.deadline
        job.started_at = now
        job.attempts = 1

    def adopt(self, job: Generation) -> None:
        """Start running a job leased with :meth:`lease` (after its row is committed)."""
        self._start(job)

    def _start(self, job: Generation) -> None:
        stale = self.active.get(job.id)
        if stale is not None:
            # This process lost the job's lease (it stalled) and has now claimed it again: the
            # old run must stop, and its result is refused anyway (fenced by attempt number).
            stale.cancel()
        self.active[job.id] = asyncio.create_task(self._run(job), name=f"job-{job.id}")

    def runs_here(self, generation_id: str) -> bool:
        return generation_id in self.active

    def cancel_local(self, generation_id: str) -> bool:
        task = self.active.get(generation_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def recover(self) -> None:
        """Requeue or fail jobs whose lease expired (their worker crashed or was killed), then
        recount every principal's active jobs (this also sees jobs other processes ended)."""

        async def work(session: AsyncSession) -> tuple[list[str], list[str]]:
            now = now_utc()
            requeued, failed = await GenerationRepository(session).recover_expired(
                now=now, max_attempts=self.max_attempts
            )
            await enqueue_generation_events(session, failed, now)  # with the outcome, atomically
            return requeued, failed

        requeued, failed = await self.db.transaction(work)
        async with self.db.read() as session:
            counts = await GenerationRepository(session).active_counts()
        await self.runner.gate.reset(counts)
        for generation_id in failed:
            self.hub.publish(JobEvent(generation_id, JobStatus.FAILED, 0.0))
        if requeued or failed:
            logger.warning("recovered lost jobs: %d requeued, %d failed", len(requeued), len(failed))
            self.hub.wake_workers()

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self.hub.work_available.clear()
            free = self.concurrency - len(self.active)
            claimed: list[Generation] = []
            if free > 0:
                try:
                    claimed = await self._claim(min(free, 64))
                except Exception:
                    logger.exception("claiming jobs failed; retrying")
                    await asyncio.sleep(self.poll_interval)
                    continue
                for job in claimed:
                    self._start(job)
            if claimed and len(claimed) == min(free, 64):
                continue  # there may be more waiting
            if free > 0:
                self.hub.queue_drained()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.hub.work_available.wait(), timeout=self.poll_interval)

    async def _claim(self, limit: int) -> list[Generation]:
        return await self.db.transaction(
            lambda session: GenerationRepository(session).claim(
                owner=self.owner,
                limit=limit,
                now=now_utc(),
                lease=self.lease_duration,
                deadline=self.deadline,
                default_max_concurrent=self.default_max_concurrent,
                for_update=not self.db.is_sqlite,
            )
        )

    async def _run(self, job: Generation) -> None:
        try:
            await self.runner.run(job, self.owner)
        except asyncio.CancelledError:
            logger.info("job %s stopped in this worker (canceled or lease lost)", job.id)
            self.hub.publish(JobEvent(job.id, "lost", job.progress))
        finally:
            if self.active.get(job.id) is asyncio.current_task():  # not a newer run of the same job
                del self.active[job.id]
            if self.hub.queue_may_have_work:
                # A slot (and maybe a key's concurrency slot) is free for a waiting job; this
                # process has the free slot, so only its own dispatcher needs waking.
                self.hub.wake_local_workers()

    async def _heartbeat_loop(self) -> None:
        interval = self.lease_duration.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            ids = list(self.active)
            if not ids:
                continue
            try:
                held = await self.db.transaction(self._extend_leases(ids))
            except Exception:
                logger.exception("lease heartbeat failed")
                continue
            for generation_id in set(ids) - held:
                # Canceled elsewhere, or taken over after we stalled: stop working on it.
                self.cancel_local(generation_id)

    def _extend_leases(self, ids: list[str]) -> Callable[[AsyncSession], Awaitable[set[str]]]:
        def work(session: AsyncSession) -> Awaitable[set[str]]:
            until = now_utc() + self.lease_duration
            return GenerationRepository(session).extend_leases(owner=self.owner, ids=ids, until=until)

        return work

    async def _recovery_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.lease_duration.total_seconds() / 2, self.poll_interval))
            try:
                await self.recover()
            except Exception:
                logger.exception("job recovery failed")
