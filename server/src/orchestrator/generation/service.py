"""Submitting, waiting for, reading and canceling generations. Decides; the repositories do SQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounting.money import from_micros, to_micros
from orchestrator.auth.principal import Principal
from orchestrator.catalog.catalog import Catalog, route_price
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation
from orchestrator.db.repositories.generations import TERMINAL, GenerationRepository, HistoryFilter
from orchestrator.db.repositories.idempotency import IdempotencyRepository
from orchestrator.errors import APIError, BudgetExceeded, ModelNotAvailable, NotFound
from orchestrator.generation.events import EventHub, JobEvent
from orchestrator.generation.runner import Router, now_utc
from orchestrator.generation.validation import resolve
from orchestrator.generation.worker import WorkerPool
from orchestrator.ids import new_id
from orchestrator.logs import log_submitted


@dataclass(frozen=True, slots=True)
class SubmitParams:
    prompt: str
    model: str
    style: str | None
    size: str | None
    quality: str | None
    n: int
    seed: int | None
    negative_prompt: str | None
    metadata: dict[str, Any]
    batch_id: str | None = None
    batch_index: int | None = None


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class GenerationService:
    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        router: Router,
        hub: EventHub,
        pool: WorkerPool | None,
        max_images: int,
        deadline_seconds: float,
        poll_interval: float,
        default_max_concurrent: int = 16,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.router = router
        self.hub = hub
        self.pool = pool
        self.max_images = max_images
        self.deadline_seconds = deadline_seconds
        self.poll_interval = poll_interval
        self.default_max_concurrent = default_max_concurrent
        # Serialises budget check + insert per key in this process, so parallel requests cannot
        # both pass the check and overspend together.
        self._budget_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def quote(self, principal: Principal, params: SubmitParams) -> tuple[Generation, Decimal | None]:
        """Validate and build the job row (not yet saved) with its quoted price."""
        resolved = resolve(
            self.catalog,
            model=params.model,
            size=params.size,
            quality=params.quality,
            style=params.style,
            n=params.n,
            seed=params.seed,
            negative_prompt=params.negative_prompt,
            max_n=self.max_images,
        )
        if principal.livemode:
            reason = self.router.unavailable_reason(resolved.model)
            if reason is not None:
                raise ModelNotAvailable(reason, param="model", status_code=503)
        route = self.router.price_route(resolved.model)
        price = route_price(resolved.model, route, resolved.size, resolved.quality, resolved.n)
        now = now_utc()
        job = Generation(
            id=new_id("gen"),
            project=principal.project,
            api_key_id=principal.key_id,
            livemode=principal.livemode,
            status="queued",
            prompt=params.prompt,
            model=resolved.model.name,
            style=resolved.style,
            size=resolved.size,
            quality=resolved.quality,
            n=resolved.n,
            seed=params.seed,
            negative_prompt=params.negative_prompt,
            meta=params.metadata,
            batch_id=params.batch_id,
            batch_index=params.batch_index,
            attempts=0,
            progress=0.0,
            cost_micros=None if price is None else to_micros(price),
            currency=self.catalog.currency,
            price_version=self.catalog.price_version,
            created_at=now,
            deadline_at=now + timedelta(seconds=self.deadline_seconds),
        )
        return job, price

    async def submit(
        self, principal: Principal, params: SubmitParams, *, idempotency_key: str | None = None
    ) -> Generation:
        """Write the job durably (before any provider is called) and wake a worker."""
        job, price = self.quote(principal, params)
        lock = (
            self._budget_locks[principal.key_id]
            if principal.monthly_budget is not None and principal.key_id
            else contextlib.nullcontext()
        )

        async def insert(session: AsyncSession) -> bool:
            repo = GenerationRepository(session)
            if principal.monthly_budget is not None and principal.key_id and price is not None:
                spent = await repo.committed_spend(
                    api_key_id=principal.key_id, since=month_start(job.created_at)
                )
                budget = to_micros(principal.monthly_budget)
                if spent + to_micros(price) > budget:
                    raise BudgetExceeded(
                        f"this key's monthly budget of ${principal.monthly_budget} would be exceeded: "
                        f"${from_micros(spent)} spent or reserved this month, this request costs ${price}",
                        extra={"budget": float(principal.monthly_budget), "spent": from_micros(spent)},
                    )
            direct = await self._can_start_now(repo, principal)
            if direct:
                assert self.pool is not None
                self.pool.lease(job)
            await repo.add(job)
            if idempotency_key is not None:
                await IdempotencyRepository(session).attach_generation(
                    principal.project, idempotency_key, job.id
                )
            return direct

        async with lock:
            direct = await self.db.transaction(insert)
        log_submitted(job.id, job.model, principal.key_id)
        if direct:
            assert self.pool is not None
            self.pool.adopt(job)
        else:
            self.hub.wake_workers()
        return job

    async def _can_start_now(self, repo: GenerationRepository, principal: Principal) -> bool:
        """Whether a new job may skip the queue: a local worker slot is free, and the key has
        nothing waiting and room under its concurrency cap (so queued jobs keep their order)."""
        if self.pool is None or not self.pool.has_capacity or principal.key_id is None:
            return False
        cap = principal.max_concurrent or self.default_max_concurrent
        return await repo.key_backlog(principal.key_id) < cap

    async def get(self, principal: Principal, generation_id: str) -> Generation:
        async with self.db.read() as session:
            job = await GenerationRepository(session).get(generation_id, project=principal.project)
        # Another project's generation is indistinguishable from a missing one.
        if job is None or job.livemode != principal.livemode:
            raise NotFound(f"no generation {generation_id!r}", param="id", code="generation_not_found")
        return job

    async def _load(self, generation_id: str) -> Generation | None:
        async with self.db.read() as session:
            return await GenerationRepository(session).get(generation_id)

    async def wait(self, job: Generation, max_wait: float) -> Generation:
        """Until ``job`` is terminal or ``max_wait`` seconds pass; returns its latest state.

        A job finished in this process arrives with its terminal event, so the common case reads
        nothing back from the database; a periodic re-read covers jobs run by other processes.
        """
        queue = self.hub.subscribe(job.id)
        try:
            loop = asyncio.get_running_loop()
            end = loop.time() + max_wait
            current = job
            while current.status not in TERMINAL:
                remaining = end - loop.time()
                if remaining <= 0:
                    return await self._reload(job.id)
                # A job running in this process reports its end as an event; any other job is
                # re-read now and then, since another process may finish it.
                local = self.pool is not None and self.pool.runs_here(job.id)
                try:
                    event = await asyncio.wait_for(
                        queue.get(), remaining if local else min(remaining, self.poll_interval * 2)
                    )
                except TimeoutError:
                    current = await self._reload(job.id)
                    continue
                if event.terminal:
                    current = event.generation or await self._reload(job.id)
                elif event.status != "running":  # e.g. "lost": stopped here, maybe resumed elsewhere
                    current = await self._reload(job.id)
            return current
        finally:
            self.hub.unsubscribe(job.id, queue)

    async def _reload(self, generation_id: str) -> Generation:
        job = await self._load(generation_id)
        assert job is not None, "jobs are never deleted"
        return job

    async def events(
        self, generation_id: str, heartbeat: float = 15.0
    ) -> AsyncIterator[tuple[str, Generation | None]]:
        """(event name, job) pairs until the job is terminal; a ``None`` job means keep-alive."""
        queue = self.hub.subscribe(generation_id)
        try:
            job = await self._load(generation_id)
            assert job is not None
            last = (job.status, job.progress)
            yield job.status, job
            while job.status not in TERMINAL:
                try:
                    event = await asyncio.wait_for(queue.get(), min(heartbeat, self.poll_interval * 2))
                except TimeoutError:
                    event = None
                if event is not None and not event.terminal and event.status == "running":
                    job.status, job.progress = "running", event.progress
                else:
                    fresh = await self._load(generation_id)
                    assert fresh is not None
                    job = fresh
                if (job.status, job.progress) != last:
                    last = (job.status, job.progress)
                    yield job.status, job
                elif event is None:
                    yield "keepalive", None
        finally:
            self.hub.unsubscribe(generation_id, queue)

    async def cancel(self, principal: Principal, generation_id: str) -> Generation:
        job = await self.get(principal, generation_id)
        canceled = await self.db.transaction(
            lambda session: GenerationRepository(session).cancel(job, now_utc())
        )
        if not canceled:
            raise APIError(
                f"generation {generation_id} already {job.status}; nothing to cancel",
                code="generation_finished",
                status_code=409,
            )
        if self.pool is not None:
            self.pool.cancel_local(generation_id)
        self.hub.publish(JobEvent(generation_id, "canceled", job.progress))
        return await self.get(principal, generation_id)

    async def batch_members(self, principal: Principal, batch_id: str) -> dict[int, Generation]:
        async with self.db.read() as session:
            return await GenerationRepository(session).batch_members(
                project=principal.project, batch_id=batch_id
            )

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
