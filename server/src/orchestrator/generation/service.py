"""The generation use case, shared by every door (REST, batch, OpenAI-compatible):
validate → quote → submit → wait. Decides; the lifecycle records, the repositories do SQL."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.accounting.money import to_micros
from orchestrator.auth.principal import Principal
from orchestrator.core.clock import now_utc
from orchestrator.core.states import ACTIVE, JobStatus
from orchestrator.db.models import Generation, Source
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.db.repositories.idempotency import IdempotencyRepository
from orchestrator.errors import APIError, ErrorCode, InvalidRequest
from orchestrator.generation.cache import Check, ResultCache, cache_key
from orchestrator.generation.idempotency import (
    ClientAttempt,
    IdempotencyService,
    Replay,
    request_fingerprint,
    sdk_scope_key,
)
from orchestrator.generation.inputs import InputService
from orchestrator.generation.lifecycle import JobLifecycle
from orchestrator.generation.operation_plan import check_operation, plan_operation
from orchestrator.generation.outcomes import Canceled
from orchestrator.generation.params import GenerationOutcome, Preferences, SubmitParams, fingerprinted
from orchestrator.generation.reading import ReadService
from orchestrator.generation.request import Planner, ResolvedRequest
from orchestrator.generation.validation import check_output_options, resolve
from orchestrator.generation.waiting import WaitService
from orchestrator.ids import new_id
from orchestrator.limits.budget import DatabaseBudgetLedger, budget_exceeded
from orchestrator.limits.pricing import require_known_price, reservation_price
from orchestrator.settings import Settings

__all__ = ["GenerationOutcome", "GenerationService", "Preferences", "SubmitParams"]


def check_idempotency_key(key: str | None) -> None:
    """An empty key would be one key for the whole project: refuse it rather than replay strangers."""
    if key is not None and not key.strip():
        raise APIError(
            "Idempotency-Key header must not be empty: send a unique value per request, or omit it",
            param="Idempotency-Key",
            code=ErrorCode.INVALID_REQUEST,
            status_code=400,
        )


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _claim(
    principal: Principal,
    params: SubmitParams,
    endpoint: str,
    preferences: Preferences,
    idempotency_key: str | None,
    attempt: ClientAttempt | None,
) -> tuple[str, str, str | ClientAttempt] | None:
    """What the submit claims: the ``Idempotency-Key`` with the request's fingerprint, or, for an
    SDK's own retry, its first attempt's job; ``None`` when the request has neither."""
    if idempotency_key is not None:
        variant = "async" if preferences.respond_async else "sync"
        return (idempotency_key, endpoint, request_fingerprint(endpoint, fingerprinted(params), variant))
    if attempt is not None:
        fingerprint = request_fingerprint(endpoint, fingerprinted(params), "sdk")
        return (sdk_scope_key(principal.subject, fingerprint), endpoint, attempt)
    return None


@dataclass(kw_only=True)
class GenerationService:
    """Submitting a generation and waiting for it; canceling one."""

    planner: Planner
    lifecycle: JobLifecycle
    waiting: WaitService
    reading: ReadService
    idempotency: IdempotencyService
    settings: Settings
    inputs: InputService | None = None
    """Reads, checks and stores image operations' inputs (``create_app`` wires it)."""
    budget: DatabaseBudgetLedger = field(default_factory=DatabaseBudgetLedger)
    cache: ResultCache | None = None
    """The opt-in result cache and in-flight deduplication (``create_app`` wires it)."""
    # Queues a key's budgeted submissions in this process before they reach the ledger's
    # database lock (which is what serialises them across processes).
    _budget_locks: defaultdict[str, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock), init=False, repr=False
    )

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
        abandoned: Callable[[], Awaitable[None]] | None = None,
    ) -> GenerationOutcome:
        """Submit one generation and wait for it (or not, with ``respond_async``).

        With an ``idempotency_key``, claiming the key, the budget check and the job row are one
        write transaction; a retry replays the first answer, rebuilt from the job (fresh URLs,
        current state). The worker's finish is the only other write. Without one, an SDK
        ``attempt`` that is a retry joins the job of its call's first attempt (see
        :meth:`IdempotencyService.claim_attempt`).

        ``abandoned`` returns when a synchronous caller has hung up: a job still queued then is
        canceled at $0 (``cancel_on_abandon``); a running one completes and is charged once.
        """
        check_idempotency_key(idempotency_key)
        self.check_input(params.prompt, params.metadata)
        max_wait = preferences.max_wait(self.settings.sync_wait_seconds)
        job, plan = self.quote(principal, params)
        self._key_for_cache(principal, params, job, plan)
        claim = _claim(principal, params, endpoint, preferences, idempotency_key, attempt)
        replay = await self._submit(principal, job, plan, claim)
        return await self._outcome(principal, job, replay, preferences, max_wait, abandoned)

    async def _outcome(
        self,
        principal: Principal,
        job: Generation,
        replay: Replay | None,
        preferences: Preferences,
        max_wait: float,
        abandoned: Callable[[], Awaitable[None]] | None,
    ) -> GenerationOutcome:
        """After the submit: the replay of an earlier attempt, or the new job (waited for,
        unless the caller asked for ``respond_async``)."""
        if replay is not None:
            return await self._replay(principal, replay, preferences, max_wait)
        if not preferences.respond_async:
            job = await self._wait_unless_abandoned(job, max_wait, abandoned)
        return GenerationOutcome(job, accepted=preferences.respond_async)

    async def _wait_unless_abandoned(
        self, job: Generation, max_wait: float, abandoned: Callable[[], Awaitable[None]] | None
    ) -> Generation:
        """Wait for ``job``; if the caller hangs up first while it is still queued, cancel it
        through the lifecycle's one cancel path (a job a worker already took is left to finish)."""
        if abandoned is None or not self.settings.cancel_on_abandon:
            return await self.waiting.wait(job, max_wait)
        waiting = asyncio.ensure_future(self.waiting.wait(job, max_wait))
        hung_up = asyncio.ensure_future(abandoned())
        try:
            await asyncio.wait((waiting, hung_up), return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung_up.cancel()
        if waiting.done():
            return waiting.result()
        waiting.cancel()
        outcome = await self.lifecycle.cancel(job.id, only_queued=True)
        return outcome.job

    async def operate(
        self,
        principal: Principal,
        params: SubmitParams,
        *,
        idempotency_key: str | None = None,
        preferences: Preferences = Preferences(),
        endpoint: str = "operation",
        attempt: ClientAttempt | None = None,
        abandoned: Callable[[], Awaitable[None]] | None = None,
    ) -> GenerationOutcome:
        """Submit one image operation (edit, variation, upscale, remove_background,
        image_to_image) and wait for it, exactly like :meth:`generate` (a caller that hangs up
        while the job is still queued gets it canceled at $0: ``abandoned``).

        The request is validated against the catalog, then every input is read and checked
        (a bad one is a 4xx with nothing stored or charged), then priced; the inputs are stored
        just before the job row (and deleted again if the row is not written).
        """
        assert self.inputs is not None, "create_app wires the input service"
        check_idempotency_key(idempotency_key)
        self.check_input(params.prompt, params.metadata)
        max_wait = preferences.max_wait(self.settings.sync_wait_seconds)
        op, options = check_operation(self.planner, params, max_n=self.settings.max_images_per_request)
        checked = await self.inputs.check(principal, params.images, params.mask)
        plan = plan_operation(
            self.planner,
            params,
            op,
            options,
            checked[0],
            livemode=principal.livemode,
            max_output_pixels=self.settings.max_output_pixels,
        )
        job = self._job(principal, params, plan, self._reservation(principal, plan))
        self._key_for_cache(principal, params, job, plan, [(c.role, c.image.data) for c in checked])
        claim = _claim(principal, params, endpoint, preferences, idempotency_key, attempt)
        sources = await self.inputs.store(job, checked)
        set_committed_value(job, "sources", sources)
        try:
            replay = await self._submit(principal, job, plan, claim, sources)
        except BaseException:
            await self.inputs.discard(sources)
            raise
        if replay is not None:
            await self.inputs.discard(sources)  # the replayed job has its own
        return await self._outcome(principal, job, replay, preferences, max_wait, abandoned)

    async def _replay(
        self, principal: Principal, replay: Replay, preferences: Preferences, max_wait: float
    ) -> GenerationOutcome:
        if replay.generation_id is None:
            assert replay.status_code is not None
            return GenerationOutcome(None, replayed=True, stored=(replay.status_code, replay.body))
        job = await self.reading.get(principal, replay.generation_id)
        if not preferences.respond_async and job.status in ACTIVE:
            job = await self.waiting.wait(job, max_wait)
        return GenerationOutcome(job, replayed=True, accepted=preferences.respond_async)

    async def submit(self, principal: Principal, params: SubmitParams) -> Generation:
        """Write the job durably (before any provider is called) and start or queue it."""
        job, plan = self.quote(principal, params)
        await self._submit(principal, job, plan, None)
        return job

    async def wait(self, job: Generation, max_wait: float) -> Generation:
        return await self.waiting.wait(job, max_wait)

    async def cancel(self, principal: Principal, generation_id: str) -> Generation:
        job = await self.reading.get(principal, generation_id)
        outcome = await self.lifecycle.cancel(job.id)
        if not isinstance(outcome, Canceled):
            raise APIError(
                f"generation {generation_id} already {outcome.job.status}; nothing to cancel",
                code=ErrorCode.GENERATION_FINISHED,
            )
        return outcome.job

    # ------------------------------------------------------------------ validate, quote

    def check_prompt(self, prompt: str, param: str = "prompt") -> None:
        """The server's length limit (blank prompts never get here: see ``api.schemas.Prompt``)."""
        limit = self.settings.max_prompt_length
        if len(prompt) > limit:
            raise InvalidRequest(
                f"{param} is {len(prompt)} characters; the limit is {limit}",
                param=param,
                code=ErrorCode.PROMPT_TOO_LONG,
            )

    def check_metadata(self, metadata: dict[str, Any]) -> None:
        if len(metadata) > self.settings.max_metadata_keys:
            raise InvalidRequest(
                f"metadata has {len(metadata)} keys; the limit is {self.settings.max_metadata_keys}",
                param="metadata",
            )

    def check_input(self, prompt: str, metadata: dict[str, Any]) -> None:
        self.check_prompt(prompt)
        self.check_metadata(metadata)

    def quote(self, principal: Principal, params: SubmitParams) -> tuple[Generation, ResolvedRequest]:
        """Validate, resolve and price the request; build its job row (not yet saved)."""
        fields = resolve(self.planner.catalog, params, max_n=self.settings.max_images_per_request)
        options = params.options.as_json()
        check_output_options(fields.model, options)
        plan = self.planner.plan(fields, livemode=principal.livemode)
        if params.partial_images:
            options = {**options, "partial_images": params.partial_images}
        if options:
            plan = dataclasses.replace(plan, operation_params=options)
        return self._job(principal, params, plan, self._reservation(principal, plan)), plan

    def _reservation(self, principal: Principal, plan: ResolvedRequest) -> Decimal | None:
        # A budget reserves the most any route that may serve it would charge (the runner charges
        # the route that served); without a price it cannot be checked, so it is refused.
        reserved = reservation_price([plan.price, *(route.price for route in plan.routes)])
        require_known_price(
            reserved,
            budgeted=principal.monthly_budget is not None,
            model=plan.model.name,
            size=plan.size,
            quality=plan.quality,
        )
        return reserved

    def _job(
        self, principal: Principal, params: SubmitParams, plan: ResolvedRequest, reserved: Decimal | None
    ) -> Generation:
        now = now_utc()
        job = Generation(
            id=new_id("gen"),
            project=principal.project,
            api_key_id=principal.key_id,
            subject=principal.subject,
            livemode=principal.livemode,
            status=JobStatus.QUEUED,
            prompt=params.prompt,
            model=plan.model.name,
            style=plan.style,
            size=plan.size,
            quality=plan.quality,
            n=plan.n,
            seed=params.seed,
            negative_prompt=params.negative_prompt,
            meta=params.metadata,
            batch_id=params.batch_id,
            batch_index=params.batch_index,
            attempts=0,
            progress=0.0,
            cost_micros=None if reserved is None else to_micros(reserved),
            currency=self.planner.catalog.currency,
            price_version=plan.price_version,
            created_at=now,
            deadline_at=now + timedelta(seconds=self.settings.job_deadline_seconds),
            operation=plan.operation,
            operation_params=plan.operation_params or None,
        )
        set_committed_value(job, "sources", [])
        return job

    def _key_for_cache(
        self,
        principal: Principal,
        params: SubmitParams,
        job: Generation,
        plan: ResolvedRequest,
        inputs: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Set the job's cache key when the request opted in to the result cache."""
        if self.cache is not None and self.cache.wanted(principal, params):
            job.cache_key = cache_key(principal, params, plan, inputs or ())

    # ------------------------------------------------------------------ submit

    async def _submit(
        self,
        principal: Principal,
        job: Generation,
        plan: ResolvedRequest,
        claim: tuple[str, str, str | ClientAttempt] | None,
        sources: list[Source] | None = None,
    ) -> Replay | None:
        """One write transaction: claim the idempotency key (or find its replay), check the
        budget, insert the job (already claimed by a local worker when one is free)."""
        budgeted = principal.monthly_budget is not None and principal.key_id is not None
        pool = principal.budget_pool_id or principal.key_id
        lock = self._budget_locks[pool] if budgeted and pool else None

        async def claim_key(session: AsyncSession) -> Replay | None:
            if claim is None:
                return None
            key, endpoint, fingerprint = claim
            return (
                await self.idempotency.claim_attempt(session, principal.project, key, fingerprint)
                if isinstance(fingerprint, ClientAttempt)
                else await self.idempotency.claim(session, principal.project, key, endpoint, fingerprint)
            )

        async def checks(session: AsyncSession) -> Replay | None:
            replay = await claim_key(session)
            if replay is not None:
                return replay
            if budgeted and job.cost_micros is not None:
                await self._reserve(session, principal, job)
            return None

        async def attach(session: AsyncSession) -> None:
            if sources:
                await GenerationRepository(session).add_sources(sources)
            if claim is not None:
                await IdempotencyRepository(session).attach_generation(principal.project, claim[0], job.id)

        alerts = principal.monthly_budget is not None or principal.budget_pool_id is not None

        async def lead(first: Check | None = None) -> Replay | None:
            async def leader_checks(session: AsyncSession) -> Replay | None:
                if first is not None:
                    await first(session)
                return await checks(session)

            return await self.lifecycle.submit(
                job,
                dataclasses.replace(plan, budgeted=alerts),
                cap=principal.max_concurrent or self.settings.default_max_concurrent,
                checks=leader_checks,
                after_insert=attach,
                lock=lock or contextlib.nullcontext(),
            )

        if job.cache_key is None or self.cache is None:
            return await lead()
        # A hit or a follower costs $0: the idempotency claim is its only check.
        return await self.cache.submit(job, checks=claim_key, after_insert=attach, leader=lead)

    async def _reserve(self, session: AsyncSession, principal: Principal, job: Generation) -> None:
        """Reserve the job's price against the key's budget (and the pool it draws from)."""
        assert principal.monthly_budget is not None and principal.key_id and job.cost_micros is not None
        check = await self.budget.reserve(
            session,
            api_key_id=principal.key_id,
            cost_micros=job.cost_micros,
            budget_micros=to_micros(principal.monthly_budget),
            since=month_start(job.created_at),
            pool_id=principal.budget_pool_id,
        )
        if not check.allowed:
            raise budget_exceeded(check, Decimal(job.cost_micros) / 1_000_000)
