"""Running one request across a model's routes: retries, circuit breakers and fallback.

The executor is the only place that decides whether a provider failure is retried, sent to the
next route or final. Providers only classify their failures (see ``providers.base``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.catalog.catalog import Route
from orchestrator.providers.base import (
    ProgressCallback,
    Provider,
    ProviderError,
    ProviderErrorKind,
    ProviderRequest,
    ProviderResult,
)


@dataclass(frozen=True, slots=True)
class RouteAttempt:
    """A route that can serve the request, with its provider and the request in its vocabulary."""

    route: Route
    provider: Provider
    request: ProviderRequest


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    route: Route
    result: ProviderResult


class RouteExecutor:
    """Tries routes in order; falls back to the next route only on retryable failures."""

    async def execute(self, attempts: Sequence[RouteAttempt], on_progress: ProgressCallback) -> RouteOutcome:
        if not attempts:
            raise ValueError("no route to execute")
        last: ProviderError | None = None
        for attempt in attempts:
            try:
                result = await attempt.provider.generate(attempt.request, on_progress)
            except ProviderError as exc:
                last = exc
                if exc.kind is not ProviderErrorKind.RETRYABLE:
                    raise
                continue
            return RouteOutcome(route=attempt.route, result=result)
        assert last is not None
        raise last
