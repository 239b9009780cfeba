"""Request dependencies: the services container, authentication, scopes and rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from orchestrator.auth.principal import Principal
from orchestrator.container import Services
from orchestrator.errors import AuthenticationFailed, ErrorCode, PermissionDenied
from orchestrator.limits.rate import admit


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _credentials(request: Request) -> str:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed(
                "Authorization header must be 'Bearer <API key or token>'",
                code=ErrorCode.INVALID_AUTHORIZATION_HEADER,
                description="use the Bearer scheme",
            )
        return token.strip()
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    raise AuthenticationFailed(
        "no API key: send 'Authorization: Bearer sk-…' or 'X-API-Key: sk-…'",
        code=ErrorCode.MISSING_CREDENTIALS,
    )


def _authorizer(scope: str):  # type: ignore[no-untyped-def]
    async def authorize(request: Request) -> Principal:
        services: Services = request.app.state.services
        principal = await services.keys.authenticate(_credentials(request))
        request.state.principal = principal  # for the access log, also when refused below
        if not principal.has(scope):
            raise PermissionDenied(f"this key lacks the {scope!r} scope", scope=scope)
        per_minute = principal.rate_limit_per_minute or services.settings.default_rate_limit_per_minute
        decision = await admit(
            services.rate_limiter,
            principal.subject,
            per_minute,
            "rate limit of {per_minute} requests per minute exceeded; retry after {retry_after} s",
        )
        request.state.response_headers.update(decision.headers())
        return principal

    authorize.required_scope = scope  # type: ignore[attr-defined]  # read by api_reference
    return authorize


GenerateScope = Annotated[Principal, Depends(_authorizer("generate"))]
ReadScope = Annotated[Principal, Depends(_authorizer("read"))]
AdminScope = Annotated[Principal, Depends(_authorizer("admin"))]
