"""GET /metrics: Prometheus exposition, closed by default.

Metrics are server-wide (every project's traffic and spend), so they are served only to the
metrics token (``ORCHESTRATOR_METRICS_TOKEN``, for scrapers) or to a live admin key.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from orchestrator.api.deps import ServicesDep, _credentials
from orchestrator.api.generate import ERRORS
from orchestrator.container import Services
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.errors import AuthenticationFailed, ErrorCode, PermissionDenied
from orchestrator.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])

NEEDS = "/metrics needs the metrics token (ORCHESTRATOR_METRICS_TOKEN) or a live admin API key"


async def _authorize(request: Request, services: Services) -> None:
    if not request.headers.get("authorization") and not request.headers.get("x-api-key"):
        raise AuthenticationFailed(
            f"{NEEDS}, as 'Authorization: Bearer …'", code=ErrorCode.MISSING_CREDENTIALS
        )
    given = _credentials(request)
    token = services.settings.metrics_token
    if token is not None and hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        return
    try:
        principal = await services.keys.authenticate(given)
    except AuthenticationFailed:
        if given.startswith("sk-"):
            raise
        raise AuthenticationFailed(NEEDS, code=ErrorCode.INVALID_METRICS_TOKEN) from None
    request.state.principal = principal  # for the access log
    if not (principal.livemode and principal.has("admin")):
        raise PermissionDenied(f"{NEEDS}; this key is not one", scope="admin")


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"},
        **{code: ERRORS[code] for code in (400, 401, 403)},
    },
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Requests, generations, cost, provider latency and errors, breakers, queue and running jobs.

    Served to the metrics token or a live admin key: the figures cover every project."""
    await _authorize(request, services)
    async with services.db.read() as session:
        services.metrics.jobs_queued.set(await GenerationRepository(session).count_queued())
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE)
