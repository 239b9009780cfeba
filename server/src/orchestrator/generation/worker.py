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
from datetime import timedelta

from orchestrator.core.states import JobStatus
from orchestrator.db.models import Generation
from orchestrator.generation.events import EventHub, JobEvent
from orchestrator.generation.lifecycle import JobLifecycle, StartJob
from orchestrator.generation.request import ResolvedRequest
from orchestrator.generation.runner import JobRunner

logger = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        *,
        lifecycle: JobLifecycle,
        runner: JobRunner,
        hub: EventHub,
        concurrency: int,
        lease_seconds: float,
        deadline_seconds: float,
        max_attempts: int,
        poll_interval: float,
        default_max_concurrent: int,
    ) -> None:
        self.lifecycle = lifecycle
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
        self.hub.on_terminal(self._on_job_end)
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

    def offer(self, job: Generation, plan: ResolvedRequest | None = None) -> StartJob | None:
        """Take a job that is about to be inserted if a worker slot is free: it is marked claimed
        by this process (the insert and the claim are one write; the row is still written before
        any provider is called), and the returned function starts it once the row is committed.
        """
        if self._stopping or len(self.active) >= self.concurrency:
            return None
        self.lifecycle.mark_claimed(job, owner=self.owner, lease=self.lease_duration, deadline=self.deadline)
        return lambda: self._start(job, plan)

    def _start(self, job: Generation, plan: ResolvedRequest | None = None) -> None:
        stale = self.active.get(job.id)
        if stale is not None:
            # This process lost the job's lease (it stalled) and has now claimed it again: the
            # old run must stop, and its result is refused anyway (fenced by attempt number).
            stale.cancel()
        self.active[job.id] = asyncio.create_task(self._run(job, plan), name=f"job-{job.id}")
        self.hub.running_here(job.id)

    def _on_job_end(self, event: JobEvent) -> None:
        """A job canceled here or in another process stops running here at once."""
        if event.status == JobStatus.CANCELED:
            self._stop_local(event.generation_id)

    def _stop_local(self, generation_id: str) -> None:
        task = self.active.get(generation_id)
        if task is not None:
            task.cancel()

    async def recover(self) -> None:
        """Requeue or fail jobs whose lease expired; see :meth:`JobLifecycle.recover`."""
        await self.lifecycle.recover(max_attempts=self.max_attempts)

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
        return await self.lifecycle.claim(
            owner=self.owner,
            limit=limit,
            lease=self.lease_duration,
            deadline=self.deadline,
            default_max_concurrent=self.default_max_concurrent,
        )

    async def _run(self, job: Generation, plan: ResolvedRequest | None) -> None:
        try:
            await self.runner.run(job, self.owner, plan)
        except asyncio.CancelledError:
            logger.info("job %s stopped in this worker (canceled or lease lost)", job.id)
            self.lifecycle.lost(job)
        finally:
            if self.active.get(job.id) is asyncio.current_task():  # not a newer run of the same job
                del self.active[job.id]
                self.hub.running_here(job.id, running=False)
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
                held = await self.lifecycle.extend_leases(
                    owner=self.owner, ids=ids, lease=self.lease_duration
                )
            except Exception:
                logger.exception("lease heartbeat failed")
                continue
            for generation_id in set(ids) - held:
                # Canceled elsewhere, or taken over after we stalled: stop working on it.
                self._stop_local(generation_id)

    async def _recovery_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.lease_duration.total_seconds() / 2, self.poll_interval))
            try:
                await self.recover()
            except Exception:
                logger.exception("job recovery failed")
