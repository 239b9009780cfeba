"""Submitting, waiting for, reading and canceling generations. Decides; the repositories do SQL."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounting.money import to_micros
from orchestrator.auth.principal import Principal
from orchestrator.catalog.catalog import Catalog
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation
from orchestrator.db.repositories.generations import GenerationRepository, HistoryFilter
from orchestrator.db.repositories.idempotency import IdempotencyRepository
from orchestrator.db.repositories.webhooks import WebhookRepository
from orchestrator.errors import APIError, InvalidRequest, ModelNotAvailable, NotFound, RateLimited
from orchestrator.generation.events import EventHub, JobEvent
from orchestrator.generation.idempotency import (
    ClientAttempt,
    IdempotencyService,
    Replay,
    request_fingerprint,
    sdk_scope_key,
)
from orchestrator.generation.outcome import failure_error
from orchestrator.generation.runner import Router, now_utc
from orchestrator.generation.states import ACTIVE, TERMINAL, UNSUCCESSFUL, ErrorCode, JobStatus
from orchestrator.generation.validation import resolve
from orchestrator.generation.worker import WorkerPool
from orchestrator.ids import new_id
from orchestrator.limits.budget import BudgetLedger, DatabaseBudgetLedger, budget_exceeded
from orchestrator.limits.concurrency import ConcurrencyGate, principal_slot
from orchestrator.limits.pricing import require_known_price, reservation_price
from orchestrator.limits.rate import RateLimiter
from orchestrator.logs import log_submitted
from orchestrator.settings import Settings


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


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the caller asked for about waiting (RFC 7240 ``Prefer``)."""

    respond_async: bool = False
    wait: float | None = None

    def max_wait(self, server_cap: float) -> float:
        return server_cap if self.wait is None else min(self.wait, server_cap)


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    """The answer to one generate call, for any door (REST, OpenAI-compatible) to shape.

    Either ``job`` (fresh or replayed) or, for an idempotent replay of a stored answer, ``stored``.
    """

    job: Generation | None
    replayed: bool = False
    accepted: bool = False
    """The caller asked not to wait (202 with the job, whatever its state)."""
    stored: tuple[int, dict[str, Any] | None] | None = None

    @property
    def status_code(self) -> int:
        if self.stored is not None:
            return self.stored[0]
        assert self.job is not None
        if self.job.status in UNSUCCESSFUL:
            return failure_error(self.job).status_code
        if self.accepted or self.job.status != JobStatus.SUCCEEDED:
            return 202
        return 200

    @property
    def error(self) -> APIError | None:
        """The error a failed or canceled job is answered with (None otherwise)."""
        if self.job is not None and self.job.status in UNSUCCESSFUL:
            return failure_error(self.job)
        return None


@dataclass(frozen=True, slots=True)
class BatchParams:
    prompts: list[str]
    batch_size: int
    shared: dict[str, Any]
    """Every SubmitParams field but ``prompt`` (model, size, style, quality, n, seed, …)."""


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One prompt of a batch: its job (when one was created) and its error (when it failed)."""

    index: int
    prompt: str
    job: Generation | None
    error: APIError | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    batch_id: str
    entries: list[BatchEntry]


@dataclass(frozen=True, slots=True)
class BatchReply:
    body: dict[str, Any]
    replayed: bool


def _fingerprinted(params: SubmitParams) -> dict[str, Any]:
    return {
        "prompt": params.prompt,
        "model": params.model,
        "style": params.style,
        "size": params.size,
        "quality": params.quality,
        "n": params.n,
        "seed": params.seed,
        "negative_prompt": params.negative_prompt,
        "metadata": params.metadata,
    }


def check_idempotency_key(key: str | None) -> None:
    """An empty key would be one key for the whole project: refuse it rather than replay strangers."""
    if key is not None and not key.strip():
        raise APIError(
            "Idempotency-Key header must not be empty: send a unique value per request, or omit it",
            param="Idempotency-Key",
            code="invalid_idempotency_key",
            status_code=400,
        )


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class GenerationService:
    """The generation use cases, shared by every door (REST, batch, OpenAI-compatible)."""

    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        router: Router,
        hub: EventHub,
        pool: WorkerPool | None,
        settings: Settings,
        gate: ConcurrencyGate,
        budget: BudgetLedger | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.gate = gate
        self.rate_limiter = rate_limiter
        self.db = db
        self.catalog = catalog
        self.router = router
        self.hub = hub
        self.pool = pool
        self.settings = settings
        self.max_images = settings.max_images_per_request
        self.deadline_seconds = settings.job_deadline_seconds
        self.poll_interval = settings.job_poll_interval
        self.default_max_concurrent = settings.default_max_concurrent
        self.idempotency = IdempotencyService(db, lock_seconds=settings.sync_wait_seconds + 30)
        self.budget: BudgetLedger = budget or DatabaseBudgetLedger()
        # Queues a key's budgeted submissions in this process before they reach the ledger's
        # database lock (which is what serialises them across processes).
        self._budget_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # ------------------------------------------------------------------ use cases

    async def generate(
        self,
        principal: Principal,
        params: SubmitParams,
        *,
        idempotency_key: str | None = None,
        preferences: Preferences = Preferences(),
        endpoint: str = "generate",
        attempt: ClientAttempt | None = None,
    ) -> GenerationOutcome:
        """Submit one generation and wait for it (or not, with ``respond_async``).

        With an ``idempotency_key``, claiming the key, the budget check and the job row are one
        write transaction; a retry replays the first answer, rebuilt from the job (fresh URLs,
        current state). The worker's finish is the only other write. Without one, an SDK
        ``attempt`` that is a retry joins the job of its call's first attempt (see
        :meth:`IdempotencyService.claim_attempt`).
        """
        check_idempotency_key(idempotency_key)
        self.check_input(params.prompt, params.metadata)
        max_wait = preferences.max_wait(self.settings.sync_wait_seconds)
        job, price = self.quote(principal, params)
        claim: tuple[str, str, str | ClientAttempt] | None = None
        if idempotency_key is not None:
            variant = "async" if preferences.respond_async else "sync"
            claim = (
                idempotency_key,
                endpoint,
                request_fingerprint(endpoint, _fingerprinted(params), variant),
            )
        elif attempt is not None:
            fingerprint = request_fingerprint(endpoint, _fingerprinted(params), "sdk")
            claim = (sdk_scope_key(principal.subject, fingerprint), endpoint, attempt)
        replay, job = await self._submit(principal, job, price, claim)
        if replay is not None:
            return await self._replay(principal, replay, preferences, max_wait)
        if not preferences.respond_async:
            job = await self.wait(job, max_wait)
        return GenerationOutcome(job, accepted=preferences.respond_async)

    async def _replay(
        self, principal: Principal, replay: Replay, preferences: Preferences, max_wait: float
    ) -> GenerationOutcome:
        if replay.generation_id is None:
            assert replay.status_code is not None
            return GenerationOutcome(None, replayed=True, stored=(replay.status_code, replay.body))
        job = await self.get(principal, replay.generation_id)
        if not preferences.respond_async and job.status in ACTIVE:
            job = await self.wait(job, max_wait)
        return GenerationOutcome(job, replayed=True, accepted=preferences.respond_async)

    async def generate_batch(
        self,
        principal: Principal,
        params: BatchParams,
        *,
        idempotency_key: str | None = None,
        render: Callable[[BatchOutcome], dict[str, Any]],
    ) -> BatchReply:
        """One generation per prompt, ``batch_size`` at a time; entries in prompt order.

        One failure does not sink the others. ``render`` shapes the outcome into the door's
        response body; with an ``idempotency_key`` that body is what a retry replays, and a batch
        whose first request died resumes, reusing the jobs it already created.
        """
        check_idempotency_key(idempotency_key)
        settings = self.settings
        if len(params.prompts) > settings.max_batch_prompts:
            raise InvalidRequest(
                f"prompts has {len(params.prompts)} items; the limit is {settings.max_batch_prompts}",
                param="prompts",
            )
        if params.batch_size > settings.max_batch_concurrency:
            raise InvalidRequest(
                f"batch_size must be at most {settings.max_batch_concurrency}", param="batch_size"
            )
        for index, prompt in enumerate(params.prompts):
            self.check_prompt(prompt, param=f"prompts.{index}")
        self.check_metadata(params.shared.get("metadata") or {})
        # Shared parameters are checked once, up front: a bad model or size fails the whole request.
        self.quote(principal, SubmitParams(prompt=params.prompts[0], **params.shared))

        if idempotency_key is not None:
            fingerprint = request_fingerprint(
                "batch",
                {"prompts": params.prompts, "batch_size": params.batch_size, **params.shared},
            )
            replay = await self.idempotency.begin(principal.project, idempotency_key, "batch", fingerprint)
            if replay is not None and replay.status_code is not None and replay.body is not None:
                return BatchReply(replay.body, replayed=True)
            digest = hashlib.sha256(f"{principal.project}\n{idempotency_key}".encode()).hexdigest()
            batch_id = "bat_" + digest[:26].upper()
        else:
            batch_id = new_id("bat")
        existing = await self.batch_members(principal, batch_id)
        gate = asyncio.Semaphore(params.batch_size)

        async def run_one(index: int, prompt: str) -> BatchEntry:
            async with gate:
                try:
                    if index not in existing:
                        await self._count_batch_item(principal, index)
                    job = existing.get(index) or await self.submit(
                        principal,
                        SubmitParams(prompt=prompt, batch_id=batch_id, batch_index=index, **params.shared),
                    )
                    job = await self.wait(job, settings.sync_wait_seconds)
                except APIError as exc:
                    return BatchEntry(index, prompt, None, exc)
            if job.status == JobStatus.SUCCEEDED:
                return BatchEntry(index, prompt, job, None)
            error = (
                failure_error(job)
                if job.status in UNSUCCESSFUL
                else APIError(
                    "still running when the batch's wait ran out; poll the generation",
                    code=ErrorCode.GENERATION_PENDING,
                    status_code=202,
                    extra={"generation_id": job.id},
                )
            )
            return BatchEntry(index, prompt, job, error)

        entries = await asyncio.gather(*(run_one(i, p) for i, p in enumerate(params.prompts)))
        body = render(BatchOutcome(batch_id, list(entries)))
        if idempotency_key is not None:
            await self.idempotency.complete(principal.project, idempotency_key, 200, body)
        return BatchReply(body, replayed=False)

    # ------------------------------------------------------------------ building blocks

    async def _count_batch_item(self, principal: Principal, index: int) -> None:
        """Each prompt of a batch is one request against the rate limit; the first was counted
        when the batch request itself was admitted."""
        if index == 0 or self.rate_limiter is None:
            return
        per_minute = principal.rate_limit_per_minute or self.settings.default_rate_limit_per_minute
        decision = await self.rate_limiter.check(principal.subject, per_minute)
        if not decision.allowed:
            raise RateLimited(
                f"rate limit of {per_minute} requests per minute reached at this prompt (each prompt "
                f"of a batch counts as one request); retry it after {decision.headers()['Retry-After']} s",
                headers=decision.headers(),
            )

    def check_prompt(self, prompt: str, param: str = "prompt") -> None:
        limit = self.settings.max_prompt_length
        if len(prompt) > limit:
            raise InvalidRequest(
                f"{param} is {len(prompt)} characters; the limit is {limit}",
                param=param,
                code=ErrorCode.PROMPT_TOO_LONG,
            )
        if not prompt.strip():
            raise InvalidRequest(f"{param} must not be blank", param=param)

    def check_metadata(self, metadata: dict[str, Any]) -> None:
        if len(metadata) > self.settings.max_metadata_keys:
            raise InvalidRequest(
                f"metadata has {len(metadata)} keys; the limit is {self.settings.max_metadata_keys}",
                param="metadata",
            )

    def check_input(self, prompt: str, metadata: dict[str, Any]) -> None:
        self.check_prompt(prompt)
        self.check_metadata(metadata)

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
        # Reserve the most any route that may serve it would charge; the runner charges the server.
        routes = self.router.candidate_routes(resolved.model, livemode=principal.livemode)
        price = reservation_price(resolved.model, routes, resolved.size, resolved.quality, resolved.n)
        require_known_price(
            price,
            budgeted=principal.monthly_budget is not None,
            model=resolved.model.name,
            size=resolved.size,
            quality=resolved.quality,
        )
        now = now_utc()
        job = Generation(
            id=new_id("gen"),
            project=principal.project,
            api_key_id=principal.key_id,
            subject=principal.subject,
            livemode=principal.livemode,
            status=JobStatus.QUEUED,
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

    async def submit(self, principal: Principal, params: SubmitParams) -> Generation:
        """Write the job durably (before any provider is called) and start or queue it."""
        job, price = self.quote(principal, params)
        _, job = await self._submit(principal, job, price, None)
        return job

    async def _submit(
        self,
        principal: Principal,
        job: Generation,
        price: Decimal | None,
        claim: tuple[str, str, str | ClientAttempt] | None,
    ) -> tuple[Replay | None, Generation]:
        """One write transaction: claim the idempotency key (or find its replay), check the
        budget, insert the job (already leased to this process when a slot is free)."""
        lock = (
            self._budget_locks[principal.budget_pool_id or principal.key_id]
            if principal.monthly_budget is not None and principal.key_id
            else contextlib.nullcontext()
        )

        async def insert(session: AsyncSession) -> tuple[Replay | None, bool]:
            if claim is not None:
                key, endpoint, fingerprint = claim
                replay = (
                    await self.idempotency.claim_attempt(session, principal.project, key, fingerprint)
                    if isinstance(fingerprint, ClientAttempt)
                    else await self.idempotency.claim(session, principal.project, key, endpoint, fingerprint)
                )
                if replay is not None:
                    return replay, False
            repo = GenerationRepository(session)
            if principal.monthly_budget is not None and principal.key_id and price is not None:
                check = await self.budget.reserve(
                    session,
                    api_key_id=principal.key_id,
                    cost_micros=to_micros(price),
                    budget_micros=to_micros(principal.monthly_budget),
                    since=month_start(job.created_at),
                    pool_id=principal.budget_pool_id,
                )
                if not check.allowed:
                    raise budget_exceeded(check, price)
            if direct:
                assert self.pool is not None
                self.pool.lease(job)
            await repo.add(job)
            if claim is not None:
                await IdempotencyRepository(session).attach_generation(principal.project, claim[0], job.id)
            return None, direct

        # Counted before the write, so parallel submissions see each other; given back below if
        # the job is not written after all.
        slot = principal_slot(principal.project, principal.subject)
        admitted = await self.gate.admit(slot, principal.max_concurrent or self.default_max_concurrent)
        # A job skips the queue when a local worker slot is free and its principal has nothing
        # waiting and room under its cap (so queued jobs keep their order). When the count is not
        # the deployment's (Redis down, or several processes without it) every job goes through
        # the database claim instead, which caps running jobs across processes.
        direct = (
            admitted and self.pool is not None and self.pool.has_capacity and self.gate.degraded() is None
        )
        try:
            async with lock:
                replay, _ = await self.db.transaction(insert)
        except BaseException:
            await self.gate.release(slot)
            raise
        if replay is not None:
            await self.gate.release(slot)
            return replay, job
        log_submitted(job.id, job.model, principal.key_id)
        if direct:
            assert self.pool is not None
            self.pool.adopt(job)
        else:
            self.hub.wake_workers()
        return None, job

    async def get(self, principal: Principal, generation_id: str) -> Generation:
        async with self.db.read() as session:
            job = await GenerationRepository(session).get(generation_id, project=principal.project)
        # Another project's generation is indistinguishable from a missing one.
        if job is None or job.livemode != principal.livemode:
            raise NotFound(
                f"no generation {generation_id!r}", param="id", code=ErrorCode.GENERATION_NOT_FOUND
            )
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
                if not local and current is job and self.hub.shared:
                    # It may have finished elsewhere before we subscribed: its event is gone.
                    current = await self._reload(job.id)
                    if current.status in TERMINAL:
                        break
                try:
                    event = await asyncio.wait_for(
                        queue.get(),
                        remaining if local else min(remaining, self.hub.backstop(self.poll_interval)),
                    )
                except TimeoutError:
                    current = await self._reload(job.id)
                    continue
                if event.terminal:
                    current = event.generation or await self._reload(job.id)
                elif event.status != JobStatus.RUNNING:  # e.g. "lost": stopped here, maybe resumed elsewhere
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
                    event = await asyncio.wait_for(
                        queue.get(), min(heartbeat, self.hub.backstop(self.poll_interval))
                    )
                except TimeoutError:
                    event = None
                if event is not None and not event.terminal and event.status == JobStatus.RUNNING:
                    job.status, job.progress = JobStatus.RUNNING, event.progress
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

        async def cancel(session: AsyncSession) -> bool:
            now = now_utc()
            if not await GenerationRepository(session).cancel(job, now):
                return False
            changes = {"status": "canceled", "finished_at": now, "cost_micros": 0, "error_code": "canceled"}
            await WebhookRepository(session).enqueue(
                job, changes | {"error_message": "canceled by request"}, now
            )
            return True

        canceled = await self.db.transaction(cancel)
        if not canceled:
            raise APIError(
                f"generation {generation_id} already {job.status}; nothing to cancel",
                code=ErrorCode.GENERATION_FINISHED,
                status_code=409,
            )
        await self.gate.release(principal_slot(job.project, job.subject or job.api_key_id or ""))
        if self.pool is not None:
            self.pool.cancel_local(generation_id)
        canceled_job = await self.get(principal, generation_id)
        # The event carries the final row, as terminal events do, so listeners can count it.
        self.hub.publish(JobEvent(generation_id, JobStatus.CANCELED, canceled_job.progress, canceled_job))
        return canceled_job

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
