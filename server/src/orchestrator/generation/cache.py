"""The opt-in exact-match result cache and in-flight deduplication.

A request that opts in (``cache: true`` for seeded requests, ``cache: "always"`` also without a
seed, or its key's default for seeded ones) gets a *cache key*: a hash of everything that decides
its pixels (operation, resolved model, size, quality, style, n, seed, prompt, negative prompt,
the operation's own fields and output options, the input images' content hashes), scoped to the
project and mode. Then, in the submit transaction and after the idempotency claim:

* a succeeded job with that key (within the TTL, not deleted) → a **hit**: a new job, already
  succeeded, at $0, sharing the source's stored files (``cached_from`` names the source);
* an active leader with that key → a **follower**: a queued job at $0 that never runs and ends
  with its leader (same outcome, images shared) — see ``JobLifecycle._end_followers``;
* neither → the job is submitted normally and becomes the key's leader. A unique partial index
  allows one active leader per key, so when two processes race, the loser's insert fails and it
  joins the winner as a follower: the database decides, no lock can go stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.auth.principal import Principal
from orchestrator.core.clock import now_utc
from orchestrator.core.states import JobStatus
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation, Image
from orchestrator.db.repositories.cache import CacheRepository
from orchestrator.generation.lifecycle import JobLifecycle
from orchestrator.generation.outcomes import NotLinked
from orchestrator.generation.params import SubmitParams
from orchestrator.generation.request import ResolvedRequest
from orchestrator.settings import Settings

T = TypeVar("T")

Check = Callable[[AsyncSession], Awaitable[None]]
"""A check run first in a transaction; raises to roll it back."""

LookupObserver = Callable[[str], None]
"""Told ``hit`` (served from a stored result or joined an active leader) or ``miss`` per lookup."""

_KEY_VERSION = 1


def cache_key(
    principal: Principal,
    params: SubmitParams,
    plan: ResolvedRequest,
    inputs: Sequence[tuple[str, bytes]] = (),
) -> str:
    """The hash of what decides a result's pixels, scoped to the project and mode. ``inputs`` are
    (role, bytes) of the checked input images, in order: keyed by content, not by how they came."""
    payload: dict[str, Any] = {
        "v": _KEY_VERSION,
        "project": principal.project,
        "livemode": principal.livemode,
        "operation": plan.operation,
        "model": plan.model.name,
        "size": plan.size,
        "quality": plan.quality,
        "style": plan.style,
        "n": plan.n,
        "seed": params.seed,
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        "params": plan.operation_params,
        "inputs": [[role, hashlib.sha256(data).hexdigest()] for role, data in inputs],
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(kw_only=True)
class ResultCache:
    db: Database
    lifecycle: JobLifecycle
    settings: Settings
    observer: LookupObserver | None = None

    def wanted(self, principal: Principal, params: SubmitParams) -> bool:
        """Whether this request uses the cache: the server and project allow it, and the request
        (or, for a seeded one, its key's default) asks; unseeded requests only with ``"always"``."""
        if not self.settings.cache_enabled or principal.project in self.settings.cache_disabled_projects:
            return False
        choice = params.cache
        if choice == "always":
            return True
        if choice is None:
            choice = principal.cache_default
        return choice is True and params.seed is not None

    # ------------------------------------------------------------------ submit

    async def submit(
        self,
        job: Generation,
        *,
        checks: Callable[[AsyncSession], Awaitable[T | None]],
        after_insert: Callable[[AsyncSession], Awaitable[None]] | None,
        leader: Callable[[Check | None], Awaitable[T | None]],
    ) -> T | None:
        """Submit ``job`` (its ``cache_key`` set) as a hit, a follower, or the key's leader.

        ``checks`` is the idempotency claim (a hit or follower reserves no budget); ``leader``
        submits the job normally (budget, worker, queue), running the check it is given first in
        its transaction.
        """
        assert job.cache_key is not None
        quoted = job.cost_micros
        for attempt in range(3):
            if await self._peek(job):
                try:
                    stopped = await self.lifecycle.submit_linked(
                        job,
                        checks=checks,
                        link=lambda session: self._link(session, job),
                        after_insert=after_insert,
                    )
                except NotLinked:
                    pass  # the source or leader went away meanwhile: lead
                else:
                    if stopped is None:
                        self._observe("hit")
                    return stopped
            _reset(job)
            job.cost_micros = quoted
            # The last attempt leads whatever appeared: a cache in flux never refuses a request.
            recheck = self._no_result_yet(job) if attempt < 2 else None
            try:
                stopped = await leader(recheck)
            except IntegrityError:
                # Another process's identical request became the leader first: join it.
                if attempt == 2:
                    raise
                continue
            except _ResultAppeared:
                continue  # a leader started and succeeded since the peek: this is a hit
            if stopped is None:
                self._observe("miss")
            return stopped
        raise AssertionError("unreachable")

    def _observe(self, result: str) -> None:
        if self.observer is not None:
            self.observer(result)

    async def _peek(self, job: Generation) -> bool:
        """A cheap read before the write: is there a result or a leader to link to?"""
        assert job.cache_key is not None
        async with self.db.read() as session:
            repo = CacheRepository(session)
            scope = (job.project, job.livemode, job.cache_key)
            if await repo.find_source(*scope, since=self._since()) is not None:
                return True
            return await repo.find_leader(*scope, lock=False) is not None

    def _no_result_yet(self, job: Generation) -> Check:
        """Checked in the leader's insert transaction: a leader that both started and succeeded
        between the peek and this insert holds no index entry any more, so only its result shows
        that the provider need not be called again."""
        assert job.cache_key is not None
        scope = (job.project, job.livemode, job.cache_key)

        async def check(session: AsyncSession) -> None:
            if await CacheRepository(session).find_source(*scope, since=self._since()) is not None:
                raise _ResultAppeared(job.id)

        return check

    def _since(self) -> datetime:
        return now_utc() - timedelta(seconds=self.settings.cache_ttl_seconds)

    async def _link(self, session: AsyncSession, job: Generation) -> Sequence[Image] | None:
        """In the submit transaction: turn ``job`` into a hit (returns the images to share) or a
        follower (returns None); :class:`NotLinked` when there is neither any more."""
        assert job.cache_key is not None
        repo = CacheRepository(session)
        scope = (job.project, job.livemode, job.cache_key)
        source = await repo.find_source(*scope, since=self._since())
        if source is None:
            leader = await repo.find_leader(*scope, lock=not self.db.is_sqlite)
            if leader is not None:
                _follow(job, leader)
                return None
            # The leader may have just succeeded (we waited on its row lock): look again.
            source = await repo.find_source(*scope, since=self._since())
        if source is None:
            raise NotLinked(job.id)
        _hit(job, source)
        return list(source.images)


class _ResultAppeared(Exception):
    """Rolls a leader's insert back: the result it would compute is stored already."""


def _reset(job: Generation) -> None:
    """Back to a plain queued job (a failed attempt may have marked it claimed or linked)."""
    job.status = JobStatus.QUEUED
    job.cached_from = None
    job.saved_micros = None
    job.lease_owner = job.lease_expires_at = None
    job.started_at = None
    job.attempts = 0


def _follow(job: Generation, leader: Generation) -> None:
    _reset(job)
    job.cached_from = leader.id
    job.cost_micros = 0


def _hit(job: Generation, source: Generation) -> None:
    _reset(job)
    now = now_utc()
    # A hit of a hit names (and saves what was paid by) the job that called the provider.
    original = source.cached_from or source.id
    job.cached_from = original
    job.saved_micros = source.saved_micros if source.cached_from else source.cost_micros
    job.status = JobStatus.SUCCEEDED
    job.progress = 1.0
    job.cost_micros = 0
    job.provider = source.provider
    job.provider_model = source.provider_model
    job.provider_job_id = source.provider_job_id
    job.seed = source.seed
    job.revised_prompt = source.revised_prompt
    job.started_at = job.finished_at = now
    job.processing_time = None  # nothing ran: kept out of the catalog's average times
    set_committed_value(
        job,
        "images",
        [
            Image(
                generation_id=job.id,
                idx=i.idx,
                storage_key=i.storage_key,
                thumbnail_key=i.thumbnail_key,
                content_type=i.content_type,
                width=i.width,
                height=i.height,
                bytes=i.bytes,
            )
            for i in source.images
        ],
    )
