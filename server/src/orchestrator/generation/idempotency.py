"""Idempotency keys: a retried POST never creates a second generation or a second charge.

Same key + same body replays the original answer (``Idempotent-Replayed: true``); same key + another
body is a 409; a key whose first request is still being validated is a 409 with ``Retry-After``.
A key whose request already created its job simply waits for that job again: that is what a
client that timed out and retried wants, and it can never duplicate work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.clock import now_utc
from orchestrator.db.engine import Database
from orchestrator.db.models import IdempotencyRecord
from orchestrator.db.repositories.idempotency import IdempotencyRepository
from orchestrator.errors import Conflict, ErrorCode

# How long a retried SDK call finds its first attempt's job: longer than any wait plus the SDK's
# backoff (a few seconds) or its client-side read timeout (10 minutes by default).
SDK_RETRY_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ClientAttempt:
    """One attempt of an SDK call, as the OpenAI SDKs number them (``x-stainless-retry-count``)."""

    retry_count: int

    @property
    def is_retry(self) -> bool:
        return self.retry_count > 0


def sdk_scope_key(subject: str, fingerprint: str) -> str:
    """The server-side idempotency key shared by the attempts of one SDK call: the caller and the
    request's fingerprint. It starts with a space, which HTTP strips from header values, so no
    client's own ``Idempotency-Key`` can collide with it."""
    digest = hashlib.sha256(f"{subject}\n{fingerprint}".encode()).hexdigest()
    return f" sdk-call:{digest}"


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int | None
    body: dict[str, Any] | None
    generation_id: str | None


def request_fingerprint(endpoint: str, payload: dict[str, Any], variant: str = "") -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{endpoint}\n{variant}\n{canonical}".encode()).hexdigest()


class IdempotencyService:
    def __init__(self, db: Database, *, lock_seconds: float) -> None:
        self.db = db
        self.lock = timedelta(seconds=lock_seconds)

    async def begin(self, project: str, key: str, endpoint: str, fingerprint: str) -> Replay | None:
        """Claim ``key`` for this request (returns None) or say how to answer instead."""
        return await self.db.transaction(
            lambda session: self.claim(session, project, key, endpoint, fingerprint)
        )

    async def claim(
        self, session: AsyncSession, project: str, key: str, endpoint: str, fingerprint: str
    ) -> Replay | None:
        """:meth:`begin` inside the caller's write transaction, so the claim and the work it
        guards (e.g. inserting the job) commit together, or not at all."""
        now = now_utc()
        record = IdempotencyRecord(
            project=project,
            key=key,
            endpoint=endpoint,
            request_hash=fingerprint,
            status="in_progress",
            created_at=now,
            locked_until=now + self.lock,
        )
        repo = IdempotencyRepository(session)
        if await repo.try_insert(record):
            return None
        existing = await repo.get(project, key)
        assert existing is not None
        if existing.endpoint != endpoint or existing.request_hash != fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used with a different request; use a new key for a "
                "new request",
                param="Idempotency-Key",
                code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            )
        if existing.status == "done":
            body = json.loads(existing.response_body) if existing.response_body else None
            return Replay(existing.response_status, body, existing.generation_id)
        if existing.generation_id is not None:
            return Replay(None, None, existing.generation_id)
        if existing.locked_until > now:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                param="Idempotency-Key",
                code=ErrorCode.IDEMPOTENCY_KEY_IN_USE,
                headers={"Retry-After": "1"},
            )
        # The first request died before doing anything durable: this one takes over.
        existing.locked_until = now + self.lock
        return None

    async def claim_attempt(
        self, session: AsyncSession, project: str, key: str, attempt: ClientAttempt
    ) -> Replay | None:
        """For a request without an ``Idempotency-Key`` from an SDK that numbers its attempts: a
        retry joins the job of the call's first attempt (when it is recent); a first attempt is a
        new call, so it takes the scope over (the caller attaches its job)."""
        now = now_utc()
        repo = IdempotencyRepository(session)
        existing = await repo.get(project, key)
        if (
            attempt.is_retry
            and existing is not None
            and existing.generation_id is not None
            and existing.created_at >= now - SDK_RETRY_WINDOW
        ):
            return Replay(None, None, existing.generation_id)
        if existing is not None:
            await repo.forget(project, key)
        record = IdempotencyRecord(
            project=project,
            key=key,
            endpoint="openai-sdk",
            request_hash=key[-64:],
            status="in_progress",
            created_at=now,
            locked_until=now,
        )
        await repo.try_insert(record)  # False: a concurrent identical call holds it, which is fine
        return None

    async def complete(
        self, project: str, key: str, status: int, body: dict[str, Any], generation_id: str | None = None
    ) -> None:
        await self.db.transaction(
            lambda session: IdempotencyRepository(session).complete(
                project, key, status=status, body=json.dumps(body, default=str), generation_id=generation_id
            )
        )
