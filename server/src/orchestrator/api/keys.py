"""API key management for admins, scoped to the admin's own project."""

from __future__ import annotations

from fastapi import APIRouter

from orchestrator.accounting.money import from_micros
from orchestrator.api.deps import AdminScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.inputs import safe_id
from orchestrator.api.key_requests import create_from_request, requested_limits
from orchestrator.api.presenters import from_attributes
from orchestrator.api.schemas import KeyCreate, KeyCreated, KeyDefaults, KeyList, KeyOut
from orchestrator.auth.delegation import budget_pool_for, expiry_for_new_key, limits_for_new_key
from orchestrator.auth.principal import Principal
from orchestrator.db.models import ApiKey
from orchestrator.errors import ErrorCode, NotFound

router = APIRouter(tags=["keys"], responses=ERRORS)


def key_out(key: ApiKey) -> KeyOut:
    return from_attributes(
        KeyOut, key, monthly_budget=from_micros(key.monthly_budget_micros), cache=bool(key.cache_default)
    )


@router.post("/keys", operation_id="createKey", response_model=KeyCreated, status_code=201)
async def create_key(body: KeyCreate, principal: AdminScope, services: ServicesDep) -> KeyCreated:
    """Create a key in the caller's project. The secret is in this response only.

    A test key creates test keys only, and no key creates one with a higher budget, rate limit or
    concurrency cap than its own (unset limits are inherited) — except a live admin key."""
    new = await create_from_request(
        services.keys,
        body,
        project=principal.project,
        limits=limits_for_new_key(principal, body.mode, requested_limits(body)),
        expires_at=expiry_for_new_key(principal, body.expires_at),
        budget_pool_id=budget_pool_for(principal),
    )
    return KeyCreated(**key_out(new.record).model_dump(), key=new.secret)


def visible_mode(principal: Principal) -> str | None:
    """Keys follow mode: a test key sees and manages test keys only (a leaked one must not be able
    to read or revoke live keys); a live admin key manages the whole project."""
    return None if principal.livemode else "test"


@router.get("/keys", operation_id="listKeys", response_model=KeyList)
async def list_keys(principal: AdminScope, services: ServicesDep) -> KeyList:
    """The project's keys (a test key lists test keys only), with the server's default limits."""
    settings = services.settings
    keys = await services.keys.list(project=principal.project, mode=visible_mode(principal))
    return KeyList(
        data=[key_out(k) for k in keys],
        defaults=KeyDefaults(
            rate_limit_per_minute=settings.default_rate_limit_per_minute,
            max_concurrent=settings.default_max_concurrent,
        ),
    )


@router.delete("/keys/{key_id}", operation_id="revokeKey", response_model=KeyOut)
async def revoke_key(key_id: str, principal: AdminScope, services: ServicesDep) -> KeyOut:
    """Revoke a key: it stops working at once here, and within seconds in other processes.
    A test key can revoke test keys only (a live key is a 404 to it)."""
    if not safe_id(key_id):
        raise NotFound(f"no API key {key_id[:40]!r}", param="id", code=ErrorCode.KEY_NOT_FOUND)
    return key_out(
        await services.keys.revoke(key_id, project=principal.project, mode=visible_mode(principal))
    )
