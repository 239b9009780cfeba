"""GET /metrics: Prometheus exposition, optionally behind a bearer token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from orchestrator.api.deps import ServicesDep
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.errors import AuthenticationFailed, ErrorCode
from orchestrator.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Requests, generations, cost, provider latency and errors, breakers, queue and running jobs."""
    token = services.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise AuthenticationFailed(
                "/metrics needs the metrics token", code=ErrorCode.INVALID_METRICS_TOKEN
            )
    async with services.db.read() as session:
        services.metrics.jobs_queued.set(await GenerationRepository(session).count_queued())
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE)
