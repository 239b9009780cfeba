"""Every state change of a job, in one place: submit, claim, progress, succeed, fail, cancel, recover.

A job ends in one of four ways (succeeded, failed, canceled, failed after its worker was lost),
and each ending does the same four things, here and nowhere else:

1. the fenced update of the row: it applies only if the job is still where the caller believes
   (running under this worker's lease and attempt; for a cancel, still queued or running);
2. in the same transaction, the webhook outbox rows, so the event exists iff the outcome does;
3. after the commit, the principal's concurrency slot is given back;
4. one event carrying the final row (waiters, SSE streams, metrics, logs, other processes).

The runner, the worker pool, cancel and recovery call this module; none of them combines the
repositories, the event hub and the gate by hand.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.core.clock import now_utc
from orchestrator.core.slots import principal_slot
from orchestrator.core.states import JobStatus
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation, Image
from orchestrator.db.repositories.cache import CacheRepository
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.errors import ErrorCode
from orchestrator.generation.events import EventHub, JobEvent, PartialImage
from orchestrator.generation.outcomes import (
    Canceled,
    CancelOutcome,
    Failed,
    Failure,
    NotActive,
    Recovered,
    Succeeded,
    Success,
    Superseded,
    trail_rows,
    unsuccessful_values,
)
from orchestrator.generation.request import ResolvedRequest
from orchestrator.limits.budget_alerts import record_budget_crossings
from orchestrator.limits.concurrency import ConcurrencyGate
from orchestrator.logs import log_submitted
from orchestrator.providers.base import ProviderImage
from orchestrator.webhooks.outbox import enqueue_generation_event

logger = logging.getLogger(__name__)

T = TypeVar("T")

CANCELED_MESSAGE = "canceled by request"
WORKER_LOST_MESSAGE = (
    "the worker running this job stopped and the job could not be resumed; it was not charged"
)


# ---------------------------------------------------------------------------- the lifecycle


def _for_followers(values: dict[str, Any], leader_cost: int | None) -> dict[str, Any]:
    """What a leader's ending writes on its followers: the same outcome, never charged; a success
    records what the shared result cost as the follower's saving."""
    shared = ("status", "progress", "provider", "provider_model", "provider_job_id", "seed",
              "revised_prompt", "finished_at", "error_code", "error_message")  # fmt: skip
    out = {name: values[name] for name in shared if name in values}
    succeeded = values.get("status") == JobStatus.SUCCEEDED
    return out | {"cost_micros": 0, "saved_micros": leader_cost if succeeded else None}


@dataclass(slots=True)
class _Outbox:
    """The webhook rows one transaction queued: the dispatcher is woken only when there are some
    (most deployments have no endpoint, and a wake costs the dispatcher a database read)."""

    rows: int = 0

    async def add(
        self, session: AsyncSession, job: Generation, changes: dict[str, Any], now: datetime
    ) -> None:
        self.rows += await enqueue_generation_event(session, job, changes, now)


def job_slot(job: Generation) -> str:
    return principal_slot(job.project, job.subject, job.api_key_id)


StartJob = Callable[[], None]
"""Starts a job that a worker pool took at submission, once its row is committed."""


class JobDispatcher(Protocol):
    """What the lifecycle needs of a worker pool at submission: one entry point."""

    def offer(self, job: Generation, plan: ResolvedRequest) -> StartJob | None:
        """Take ``job`` now if a slot is free (mark it claimed before it is inserted, and return
        the function that starts it after the commit), or None to leave it to the queue."""
        ...


class JobLifecycle:
    def __init__(self, *, db: Database, hub: EventHub, gate: ConcurrencyGate) -> None:
        self.db = db
        self.hub = hub
        self.gate = gate
        self.dispatcher: JobDispatcher | None = None
        self.webhooks_queued: Callable[[], None] | None = None
        """Called after a commit that queued webhook rows (the webhook dispatcher's wake)."""

    # -------------------------------------------------------------- submit

    async def submit(
        self,
        job: Generation,
        plan: ResolvedRequest,
        *,
        cap: int,
        checks: Callable[[AsyncSession], Awaitable[T | None]],
        after_insert: Callable[[AsyncSession], Awaitable[None]] | None = None,
        lock: contextlib.AbstractAsyncContextManager[Any] | None = None,
    ) -> T | None:
        """Write ``job`` as queued (or already claimed by a local worker) in one transaction with
        ``checks`` (idempotency claim, budget), which may stop the insert by returning a value.

        Returns that value (nothing was written), or None once the job is written and started or
        queued. The slot is counted before the write, so parallel submissions see each other,
        and given back when the job is not written after all.
        """
        slot = job_slot(job)
        admitted = await self.gate.admit(slot, cap)
        # A job skips the queue when a local worker slot is free and its principal has room under
        # its cap (so queued jobs keep their order). When the gate's count is not the deployment's
        # (Redis down, or several processes without it) every job goes through the database
        # claim instead, which caps running jobs across processes.
        direct = admitted and self.dispatcher is not None and self.gate.degraded() is None
        start = self.dispatcher.offer(job, plan) if direct and self.dispatcher is not None else None

        async def insert(session: AsyncSession) -> T | None:
            stop = await checks(session)
            if stop is not None:
                return stop
            await GenerationRepository(session).add(job)
            if after_insert is not None:
                await after_insert(session)
            return None

        try:
            async with lock or contextlib.nullcontext():
                stopped = await self.db.transaction(insert)
        except BaseException:
            await self.gate.release(slot)
            raise
        if stopped is not None:
            await self.gate.release(slot)
            return stopped
        log_submitted(job.id, job.model, job.api_key_id)
        if start is not None:
            start()
        else:
            self.hub.wake_workers()
        return None

    async def submit_linked(
        self,
        job: Generation,
        *,
        checks: Callable[[AsyncSession], Awaitable[T | None]],
        link: Callable[[AsyncSession], Awaitable[Sequence[Image] | None]],
        after_insert: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> T | None:
        """Write ``job`` linked to another job's result (``generation.cache``): ``link`` turns it
        into a cache hit (already succeeded, returns the shared images) or a follower of an active
        leader (queued, returns None), or raises :class:`NotLinked`. No worker, no concurrency slot
        and no budget are involved: nothing runs for it. A hit's webhook rows are written in the
        same transaction, and its event published after the commit, as for any success."""

        outbox = _Outbox()

        async def insert(session: AsyncSession) -> T | None:
            stop = await checks(session)
            if stop is not None:
                return stop
            images = await link(session)
            await GenerationRepository(session).add(job)
            if images is not None:
                await CacheRepository(session).share_images(job.id, images)
            if after_insert is not None:
                await after_insert(session)
            if job.status == JobStatus.SUCCEEDED:
                await outbox.add(session, job, {}, now_utc())
            return None

        stopped = await self.db.transaction(insert)
        if stopped is not None:
            return stopped
        log_submitted(job.id, job.model, job.api_key_id)
        if job.status == JobStatus.SUCCEEDED:
            self._delivered(outbox)
            self._announce(job)
        return None

    # -------------------------------------------------------------- claim, leases, progress

    @staticmethod
    def mark_claimed(job: Generation, *, owner: str, lease: timedelta, deadline: timedelta) -> None:
        """Claim a job that is about to be inserted (the insert and the claim are one write)."""
        now = now_utc()
        job.status = JobStatus.RUNNING
        job.lease_owner = owner
        job.lease_expires_at = now + lease
        job.deadline_at = now + deadline
        job.started_at = now
        job.attempts = 1

    async def claim(
        self, *, owner: str, limit: int, lease: timedelta, deadline: timedelta, default_max_concurrent: int
    ) -> list[Generation]:
        """Move up to ``limit`` queued jobs to running under ``owner``'s lease (oldest first)."""
        return await self.db.transaction(
            lambda session: GenerationRepository(session).claim(
                owner=owner,
                limit=limit,
                now=now_utc(),
                lease=lease,
                deadline=deadline,
                default_max_concurrent=default_max_concurrent,
                for_update=not self.db.is_sqlite,
            )
        )

    async def extend_leases(self, *, owner: str, ids: list[str], lease: timedelta) -> set[str]:
        """Heartbeat: the ids ``owner`` still holds (the others were canceled or taken over)."""
        until = now_utc() + lease
        return await self.db.transaction(
            lambda session: GenerationRepository(session).extend_leases(owner=owner, ids=ids, until=until)
        )

    def started(self, job: Generation) -> None:
        self.hub.publish(JobEvent(job.id, JobStatus.RUNNING, job.progress))

    async def progress(self, job: Generation, owner: str, fraction: float, *, store: bool) -> None:
        """Tell listeners; with ``store``, also write it (throttled by the caller)."""
        self.hub.publish(JobEvent(job.id, JobStatus.RUNNING, fraction))
        if store:
            await self.db.transaction(
                lambda session: GenerationRepository(session).set_progress(job.id, owner, fraction)
            )

    def partial_image(self, job: Generation, index: int, image: ProviderImage) -> None:
        """Pass a partial image the provider streamed on to this process's streams (not state)."""
        self.hub.publish_partial(
            PartialImage(job.id, index, image.data, image.content_type, image.width, image.height)
        )

    def lost(self, job: Generation) -> None:
        """This process stopped running ``job`` (canceled, or its lease was lost)."""
        self.hub.publish(JobEvent(job.id, "lost", job.progress))

    # -------------------------------------------------------------- endings

    async def succeed(self, job: Generation, owner: str, success: Success) -> Succeeded | Superseded:
        values: dict[str, Any] = {
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "provider": success.provider,
            "provider_model": success.provider_model,
            "provider_job_id": success.provider_job_id,
            "seed": success.seed,
            "revised_prompt": success.revised_prompt,
            "cost_micros": success.cost_micros,
            "provider_cost_micros": success.provider_cost_micros,
            "provider_usage": success.provider_usage,
            "attempt_trail": trail_rows(success.trail),
            "finished_at": now_utc(),
            "processing_time": success.processing_time,
            "error_code": None,
            "error_message": None,
        }
        if await self._finish(job, owner, values, success.images, budgeted=success.budgeted):
            return Succeeded(job)
        return Superseded(job.id)

    async def fail(self, job: Generation, owner: str, failure: Failure) -> Failed | Superseded:
        values = unsuccessful_values(JobStatus.FAILED, failure.code, failure.message) | {
            "provider": failure.provider,
            "attempt_trail": trail_rows(failure.trail),
            "processing_time": failure.processing_time,
        }
        if await self._finish(job, owner, values, ()):
            return Failed(job)
        return Superseded(job.id)

    async def _finish(
        self,
        job: Generation,
        owner: str,
        values: dict[str, Any],
        images: Sequence[Image],
        *,
        budgeted: bool = False,
    ) -> bool:
        followers: list[Generation] = []
        outbox = _Outbox()

        async def record(session: AsyncSession) -> bool:
            if not await GenerationRepository(session).finish(
                job.id, owner, values, images, attempt=job.attempts
            ):
                return False
            now = now_utc()
            await outbox.add(session, job, values, now)
            if budgeted:  # the charge is settled here, with its alerts
                outbox.rows += len(await record_budget_crossings(session, job, values["cost_micros"], now))
            followers[:] = await self._end_followers(session, outbox, job, values, images)
            return True

        if not await self.db.transaction(record):
            return False
        self._delivered(outbox)
        for name, value in values.items():
            setattr(job, name, value)
        set_committed_value(job, "images", list(images))  # a detached copy: no lazy load
        job.lease_owner = job.lease_expires_at = None
        await self._ended(job)
        for follower in followers:
            self._announce(follower)
        return True

    async def _end_followers(
        self,
        session: AsyncSession,
        outbox: _Outbox,
        leader: Generation,
        values: dict[str, Any],
        images: Sequence[Image] = (),
    ) -> list[Generation]:
        """End the jobs deduplicated onto ``leader`` as it ends (same transaction), with their
        webhook rows. Followers never held a worker or a concurrency slot."""
        if leader.cache_key is None:
            return []
        leader_cost = values.get("cost_micros", leader.cost_micros)
        rows = await CacheRepository(session).end_followers(
            leader.id, _for_followers(values, leader_cost), images
        )
        for row in rows:
            await outbox.add(session, row, {}, row.finished_at or now_utc())
        return rows

    async def cancel(self, generation_id: str, *, only_queued: bool = False) -> CancelOutcome:
        """Cancel a queued or running job; a job that already ended is left as it is. With
        ``only_queued`` a job a worker has already taken is left running too (cancel-on-abandon:
        nothing has been paid yet only while it is queued)."""

        followers: list[Generation] = []
        outbox = _Outbox()

        async def cancel(session: AsyncSession) -> CancelOutcome:
            repo = GenerationRepository(session)
            values = unsuccessful_values(JobStatus.CANCELED, ErrorCode.CANCELED, CANCELED_MESSAGE)
            if only_queued and await CacheRepository(session).has_active_followers(generation_id):
                # Other callers wait on this job's result: it is no longer only the leaver's.
                job = await repo.get(generation_id)
                assert job is not None, "jobs are never deleted"
                return NotActive(job)
            canceled = await repo.cancel(generation_id, values, only_queued=only_queued)
            job = await repo.get(generation_id)
            assert job is not None, "jobs are never deleted"
            if not canceled:
                return NotActive(job)
            await outbox.add(session, job, {}, values["finished_at"])
            if job.cached_from is None:
                followers[:] = await self._end_followers(session, outbox, job, values)
            return Canceled(job)

        outcome = await self.db.transaction(cancel)
        self._delivered(outbox)
        if isinstance(outcome, Canceled):
            if outcome.job.cached_from is None:
                await self._ended(outcome.job)
            else:
                self._announce(outcome.job)  # a follower never held a concurrency slot
            for follower in followers:
                self._announce(follower)
        return outcome

    async def recover(self, *, max_attempts: int) -> Recovered:
        """Requeue or fail jobs whose lease expired (their worker crashed or was killed), then
        recount every principal's active jobs (this also sees jobs other processes ended)."""

        outbox = _Outbox()

        async def work(session: AsyncSession) -> Recovered:
            now = now_utc()
            repo = GenerationRepository(session)
            lost = unsuccessful_values(JobStatus.FAILED, ErrorCode.WORKER_LOST, WORKER_LOST_MESSAGE, now)
            requeued, failed = await repo.recover_expired(
                now=now, max_attempts=max_attempts, failed_values=lost
            )
            rows = await repo.get_many(failed)
            followers: list[Generation] = []
            for job in rows:
                await outbox.add(session, job, {}, now)  # with the outcome, atomically
                followers += await self._end_followers(session, outbox, job, lost)
            return Recovered(tuple(requeued), tuple(rows), tuple(followers))

        recovered = await self.db.transaction(work)
        self._delivered(outbox)
        async with self.db.read() as session:
            counts = await GenerationRepository(session).active_counts()
        # The recount is what gives back the slots of jobs whose process died.
        await self.gate.reset(
            {principal_slot(project, subject): n for (project, subject), n in counts.items()}
        )
        for job in (*recovered.failed, *recovered.followers):
            self._announce(job)
        if recovered.requeued or recovered.failed:
            logger.warning(
                "recovered lost jobs: %d requeued, %d failed", len(recovered.requeued), len(recovered.failed)
            )
            self.hub.wake_workers()
        return recovered

    def _delivered(self, outbox: _Outbox) -> None:
        if outbox.rows and self.webhooks_queued is not None:
            self.webhooks_queued()

    async def _ended(self, job: Generation) -> None:
        await self.gate.release(job_slot(job))
        self._announce(job)

    def _announce(self, job: Generation) -> None:
        # The event carries the final row, as every terminal event does, so listeners can count it.
        self.hub.publish(JobEvent(job.id, job.status, job.progress, job))
