"""Authenticating callers and managing API keys."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounting.money import from_micros, to_micros
from orchestrator.auth.keys import ParsedKey, generate_key, hash_key, key_prefix, parse_key
from orchestrator.auth.principal import SCOPES, Principal
from orchestrator.core.clock import now_utc
from orchestrator.db.engine import Database
from orchestrator.db.models import ApiKey
from orchestrator.db.repositories.keys import KeyRepository
from orchestrator.errors import AuthenticationFailed, ErrorCode, InvalidRequest, NotFound
from orchestrator.ids import new_id

if TYPE_CHECKING:  # the JWT library (and cryptography) loads only where a verifier is built
    from orchestrator.auth.jwt import JWTVerifier

# How long a key lookup is reused. Another process's revocation takes effect here within this
# time; at one lookup per key per second the database stays off the hot path all the same.
_CACHE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class NewKey:
    record: ApiKey
    secret: str


def principal_for(key: ApiKey) -> Principal:
    return Principal(
        project=key.project,
        livemode=key.mode == "live",
        scopes=frozenset(key.scopes),
        subject=key.id,
        key_id=key.id,
        rate_limit_per_minute=key.rate_limit_per_minute,
        max_concurrent=key.max_concurrent,
        monthly_budget=None
        if key.monthly_budget_micros is None
        else Decimal(str(from_micros(key.monthly_budget_micros))),
        expires_at=key.expires_at,
        budget_pool_id=key.budget_pool_id,
        cache_default=bool(key.cache_default),
    )


def unknown_key_message(key: ParsedKey) -> str:
    """What to check when a well-formed key is not found. It names only what the caller sent and
    this server's own database, never whether the key exists anywhere else."""
    return (
        f"invalid API key: no active {key.mode}-mode key {key.prefix}… in this server's database. "
        "Keys work only on the server whose database holds them: GET /readyz names this server's "
        "database; create keys with the server's ORCHESTRATOR_DATA_DIR or ORCHESTRATOR_DATABASE_URL "
        "(`orchestrator keys list` shows the database it reads)"
    )


class KeyService:
    def __init__(self, db: Database, jwt: JWTVerifier | None = None) -> None:
        self.db = db
        self.jwt = jwt
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        # One lookup in flight per key: when an entry expires under load, concurrent requests of
        # that key share one query instead of each sending their own.
        self._inflight: dict[str, asyncio.Future[Principal | None]] = {}
        self._used: set[str] = set()
        self._alive: dict[str, tuple[float, bool]] = {}

    async def authenticate(self, token: str) -> Principal:
        """An API key (checked offline first by its checksum) or, when configured, a JWT."""
        if token.startswith("sk-"):
            parsed = parse_key(token)
            if parsed is None:
                raise AuthenticationFailed(
                    "malformed API key: check that it was copied whole", description="malformed API key"
                )
            principal = await self._lookup(parsed.hash)
            if principal is None:
                raise AuthenticationFailed(
                    unknown_key_message(parsed), description="unknown or revoked API key"
                )
            if principal.expires_at is not None and principal.expires_at <= now_utc():
                raise AuthenticationFailed("this API key has expired", description="expired API key")
            self._used.add(principal.subject)
            return principal
        if self.jwt is not None and self.jwt.enabled and token.count(".") == 2:
            from orchestrator.auth.jwt import JWTError  # loaded already: it built self.jwt

            try:
                return await self.jwt.verify(token)
            except JWTError as exc:
                raise AuthenticationFailed(
                    f"invalid bearer token: {exc}", code=ErrorCode.INVALID_TOKEN, description=str(exc)
                ) from exc
        raise AuthenticationFailed(
            "invalid API key: keys start with sk-test- or sk-live-", description="not an API key"
        )

    async def _lookup(self, key_hash: str) -> Principal | None:
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        task = self._inflight.get(key_hash)
        if task is None:
            # A task of its own, so a caller that gives up does not cancel the others' lookup.
            task = asyncio.ensure_future(self._fetch(key_hash))
            self._inflight[key_hash] = task
            task.add_done_callback(lambda done: self._lookup_done(key_hash, done))
        return await asyncio.shield(task)

    def _lookup_done(self, key_hash: str, task: asyncio.Future[Principal | None]) -> None:
        self._inflight.pop(key_hash, None)
        if not task.cancelled():
            task.exception()  # seen by every waiter; marked retrieved for when none is left

    async def _fetch(self, key_hash: str) -> Principal | None:
        now = time.monotonic()
        async with self.db.read() as session:
            record = await KeyRepository(session).by_hash(key_hash)
        principal = None if record is None or record.revoked_at is not None else principal_for(record)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key_hash] = (now + _CACHE_SECONDS, principal)
        return principal

    async def create(
        self,
        *,
        project: str,
        name: str,
        mode: str,
        scopes: list[str],
        rate_limit_per_minute: int | None = None,
        max_concurrent: int | None = None,
        monthly_budget: Decimal | None = None,
        expires_at: datetime | None = None,
        budget_pool_id: str | None = None,
        cache_default: bool | None = None,
    ) -> NewKey:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise InvalidRequest(f"unknown scopes {unknown}; allowed: {', '.join(SCOPES)}", param="scopes")
        if expires_at is not None and expires_at <= now_utc():
            raise InvalidRequest("expires_at must be in the future", param="expires_at")
        secret = generate_key(mode)
        record = ApiKey(
            id=new_id("key"),
            project=project,
            name=name,
            prefix=key_prefix(secret),
            key_hash=hash_key(secret),
            mode=mode,
            scopes=sorted(set(scopes)),
            rate_limit_per_minute=rate_limit_per_minute,
            max_concurrent=max_concurrent,
            monthly_budget_micros=None if monthly_budget is None else to_micros(monthly_budget),
            budget_pool_id=budget_pool_id,
            cache_default=cache_default,
            created_at=now_utc(),
            expires_at=expires_at,
        )
        await self.db.transaction(lambda session: KeyRepository(session).insert(record))
        return NewKey(record, secret)

    async def list(self, *, project: str | None, mode: str | None = None) -> list[ApiKey]:
        """The project's keys; with ``mode``, only keys of that mode (what a test key may see)."""
        async with self.db.read() as session:
            return await KeyRepository(session).all(project=project, mode=mode)

    async def still_valid(self, principal: Principal) -> bool:
        """Whether ``principal``'s key is still unrevoked (read at most once a second per key), for
        long-lived requests that must end when their key does. Bearer tokens stay valid."""
        key_id = principal.key_id
        if key_id is None:
            return True
        cached = self._alive.get(key_id)
        now = time.monotonic()
        if cached is None or cached[0] <= now:
            async with self.db.read() as session:
                record = await KeyRepository(session).get(key_id)
            alive = record is not None and record.revoked_at is None
            if len(self._alive) > 50_000:
                self._alive.clear()
            cached = (now + _CACHE_SECONDS, alive)
            self._alive[key_id] = cached
        return cached[1]

    async def revoke(self, key_id: str, *, project: str | None, mode: str | None = None) -> ApiKey:
        """Revoke a key of ``project`` (and of ``mode`` when given: another mode's key is a 404)."""

        async def revoke(session: AsyncSession) -> ApiKey:
            repo = KeyRepository(session)
            record = await repo.get(key_id, project=project, mode=mode)
            if record is None:
                raise NotFound(f"no API key {key_id!r}", param="id", code=ErrorCode.KEY_NOT_FOUND)
            await repo.revoke(record, now_utc())
            return record

        record = await self.db.transaction(revoke)
        self._cache.pop(record.key_hash, None)
        self._alive.pop(record.id, None)
        return record

    async def flush_last_used(self) -> None:
        """Record which keys were used, in one write, instead of one write per request."""
        if not self._used:
            return
        used, self._used = list(self._used), set()
        await self.db.transaction(lambda session: KeyRepository(session).touch(used, now_utc()))
