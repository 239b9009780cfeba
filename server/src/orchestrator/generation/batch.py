"""One generation per prompt, ``batch_size`` at a time: the batch endpoint's use case.

With an Idempotency-Key the outcome (each entry's job id or error) is stored; a retry rebuilds
the answer from it and the jobs' current state, as a retried ``generate`` does, and a batch whose
first request died resumes, reusing the jobs it already created.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from orchestrator.auth.principal import Principal
from orchestrator.core.states import UNSUCCESSFUL, JobStatus
from orchestrator.db.models import Generation
from orchestrator.errors import APIError, ErrorCode, InvalidRequest
from orchestrator.generation.idempotency import IdempotencyService, request_fingerprint
from orchestrator.generation.outcome import failure_error
from orchestrator.generation.params import SubmitParams
from orchestrator.generation.reading import ReadService
from orchestrator.generation.service import GenerationService, check_idempotency_key
from orchestrator.ids import new_id
from orchestrator.limits.rate import RateLimiter, admit
from orchestrator.settings import Settings


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
    replayed: bool = False


def _job_error(job: Generation) -> APIError | None:
    """How an entry's job is reported: nothing when it succeeded, its error otherwise."""
    if job.status == JobStatus.SUCCEEDED:
        return None
    if job.status in UNSUCCESSFUL:
        return failure_error(job)
    return APIError(
        "still running when the batch's wait ran out; poll the generation",
        code=ErrorCode.GENERATION_PENDING,
        extra={"generation_id": job.id},
    )


def _stored_error(error: APIError) -> dict[str, Any]:
    """An entry's error as stored for a retry: its envelope (no request id) and its status."""
    stored = error.body(None)["error"]
    del stored["request_id"], stored["type"]  # the type follows from the code
    return {**stored, "status": error.status_code}


def _restored_error(stored: dict[str, Any]) -> APIError:
    fields = dict(stored)
    message, code, param, status = (fields.pop(k) for k in ("message", "code", "param", "status"))
    return APIError(message, code=ErrorCode(code), param=param, status_code=status, extra=fields)


@dataclass(kw_only=True)
class BatchService:
    generations: GenerationService
    reading: ReadService
    idempotency: IdempotencyService
    settings: Settings
    rate_limiter: RateLimiter | None = None

    def _check(self, principal: Principal, params: BatchParams) -> None:
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
            self.generations.check_prompt(prompt, param=f"prompts.{index}")
        self.generations.check_metadata(params.shared.get("metadata") or {})
        # Shared parameters are checked once, up front: a bad model or size fails the whole request.
        self.generations.quote(principal, SubmitParams(prompt=params.prompts[0], **params.shared))

    async def generate_batch(
        self, principal: Principal, params: BatchParams, *, idempotency_key: str | None = None
    ) -> BatchOutcome:
        """One generation per prompt; entries in prompt order. One failure does not sink the others."""
        check_idempotency_key(idempotency_key)
        self._check(principal, params)
        if idempotency_key is None:
            return await self._run(principal, params, new_id("bat"))
        fingerprint = request_fingerprint(
            "batch", {"prompts": params.prompts, "batch_size": params.batch_size, **params.shared}
        )
        replay = await self.idempotency.begin(principal.project, idempotency_key, "batch", fingerprint)
        if replay is not None and replay.status_code is not None and replay.body is not None:
            return await self._replay(principal, replay.body)
        digest = hashlib.sha256(f"{principal.project}\n{idempotency_key}".encode()).hexdigest()
        outcome = await self._run(principal, params, "bat_" + digest[:26].upper())
        stored = {
            "batch_id": outcome.batch_id,
            "entries": [
                {
                    "index": e.index,
                    "prompt": e.prompt,
                    "generation_id": None if e.job is None else e.job.id,
                    "error": None if e.job is not None or e.error is None else _stored_error(e.error),
                }
                for e in outcome.entries
            ],
        }
        await self.idempotency.complete(principal.project, idempotency_key, 200, stored)
        return outcome

    async def _run(self, principal: Principal, params: BatchParams, batch_id: str) -> BatchOutcome:
        existing = await self.reading.batch_members(principal, batch_id)
        gate = asyncio.Semaphore(params.batch_size)

        async def run_one(index: int, prompt: str) -> BatchEntry:
            async with gate:
                try:
                    if index not in existing:
                        await self._count_item(principal, index)
                    job = existing.get(index) or await self.generations.submit(
                        principal,
                        SubmitParams(prompt=prompt, batch_id=batch_id, batch_index=index, **params.shared),
                    )
                    job = await self.generations.wait(job, self.settings.sync_wait_seconds)
                except APIError as exc:
                    return BatchEntry(index, prompt, None, exc)
            return BatchEntry(index, prompt, job, _job_error(job))

        entries = await asyncio.gather(*(run_one(i, p) for i, p in enumerate(params.prompts)))
        return BatchOutcome(batch_id, list(entries))

    async def _count_item(self, principal: Principal, index: int) -> None:
        """Each prompt of a batch is one request against the rate limit; the first was counted
        when the batch request itself was admitted."""
        if index == 0 or self.rate_limiter is None:
            return
        per_minute = principal.rate_limit_per_minute or self.settings.default_rate_limit_per_minute
        await admit(
            self.rate_limiter,
            principal.subject,
            per_minute,
            "rate limit of {per_minute} requests per minute reached at this prompt (each prompt "
            "of a batch counts as one request); retry it after {retry_after} s",
        )

    async def _replay(self, principal: Principal, stored: dict[str, Any]) -> BatchOutcome:
        """The first answer, rebuilt from the stored outcome and the jobs' current state."""
        members = await self.reading.batch_members(principal, stored["batch_id"])
        by_id = {job.id: job for job in members.values()}
        entries = []
        for entry in stored["entries"]:
            job = by_id.get(entry["generation_id"] or "")
            error = _job_error(job) if job is not None else _restored_error(entry["error"])
            entries.append(BatchEntry(entry["index"], entry["prompt"], job, error))
        return BatchOutcome(stored["batch_id"], entries, replayed=True)
