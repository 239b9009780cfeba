"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orchestrator.api.deps import ServicesDep
from orchestrator.container import Services

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


class Readiness(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, str] = Field(description="`ok`, or `error: <kind>` for each dependency.")
    database: str = Field(
        description="The database this server uses: its name and id (the id the CLI and the "
        "start-up line print too). API keys work only on the server whose database holds them."
    )
    degraded: list[str] | None = Field(
        default=None,
        description="Present while serving with a fallback (e.g. Redis unreachable): which, and its effect.",
    )


def _gate_degraded(services: Services) -> str | None:
    return None if services.concurrency is None else services.concurrency.degraded()


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: `checks` names what failed."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Database and storage answer; 503 naming what does not.

    Redis is not required to serve: when it is configured but unreachable, or several processes
    run without it, the answer stays 200, with ``status: degraded`` and ``degraded`` naming the
    fallback in force (per-process limits, polling for other processes' jobs)."""
    checks: dict[str, str] = {}
    for name, probe in (("database", services.db.ping), ("storage", services.storage.check)):
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    degraded: list[str] = []
    if services.redis is None:
        # Several processes without Redis (allowed explicitly): limits are split, say so.
        for reason in (services.rate_limiter.degraded(), _gate_degraded(services)):
            if reason is not None:
                degraded.append(reason)
    if services.redis is not None:
        try:
            await services.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        limits = services.rate_limiter.degraded()
        if limits is not None or checks["redis"] != "ok":
            degraded.append(limits or "Redis unreachable: rate limits fall back to per-process limits")
        gate = _gate_degraded(services)
        if gate is not None:
            degraded.append(gate)
        if services.bus is not None and not services.bus.healthy:
            degraded.append("Redis unreachable: other processes' jobs are seen by polling")
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    body: dict[str, object] = {
        "status": status,
        "checks": checks,
        "database": services.settings.database_public_label(),
    }
    if degraded:
        body["degraded"] = degraded
    return JSONResponse(body, status_code=200 if ready else 503)
