"""Running one request across a model's routes: retries, circuit breakers and fallback.

The executor is the only place that decides whether a provider failure is retried, sent to the
next route or final. Providers only classify their failures (see ``providers.base``):

- ``RETRYABLE`` (429, 5xx, connection errors, malformed bodies): retried on the same route with
  full-jitter exponential backoff (or the provider's ``Retry-After``), then the next route;
- ``TIMEOUT`` while the request still has time left (a per-attempt budget ran out): like
  ``RETRYABLE``; once the request's own deadline has passed, final (``provider_timeout``);
- ``CONTENT_POLICY``, ``AUTH``, ``INVALID_REQUEST``: final at once, never retried or sent elsewhere
  (another provider would either refuse too, or we would launder a refusal).

Each provider has a circuit breaker: after ``failure_threshold`` consecutive retryable failures it
opens and requests skip that provider (counted as a retryable failure, so they fall back) until
``cooldown`` passes; then one probe request is let through (half-open). Success closes it,
failure re-opens it. Breakers live on the executor: build one executor per process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.catalog.catalog import Catalog, ModelSpec, Route
from orchestrator.providers.base import (
    ProgressCallback,
    Provider,
    ProviderError,
    ProviderErrorKind,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.registry import missing_credential

logger = logging.getLogger(__name__)

OFFLINE_ROUTE = Route(provider="offline", model="test-render")
"""Test-mode requests are served by the deterministic offline renderer, whatever the model."""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
CallObserver = Callable[[str, float, str | None], None]
"""Told of every provider call: provider, seconds, and the error kind (None on success)."""

_FINAL = frozenset(
    {ProviderErrorKind.CONTENT_POLICY, ProviderErrorKind.AUTH, ProviderErrorKind.INVALID_REQUEST}
)


@dataclass(frozen=True, slots=True)
class RouteAttempt:
    """A route that can serve the request, with its provider and the request in its vocabulary."""

    route: Route
    provider: Provider
    request: ProviderRequest


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """One failed call to a provider (or a skip because its breaker was open)."""

    provider: str
    model: str
    kind: ProviderErrorKind
    code: str
    """The provider's error code, ``circuit_open``, or the kind when the provider gave none."""
    message: str


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    """The route that served the request and its result, plus every failure on the way."""

    route: Route
    result: ProviderResult
    failures: list[FailedAttempt] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RouteChoice:
    route: Route
    provider: Provider


class Router:
    """Maps a public model to the routes this deployment can use right now."""

    def __init__(self, catalog: Catalog, providers: Mapping[str, Provider], offline: Provider) -> None:
        self.catalog = catalog
        self.providers = providers
        self.offline = offline

    def routes(self, model: ModelSpec, *, livemode: bool) -> list[RouteChoice]:
        if not livemode:
            return [RouteChoice(OFFLINE_ROUTE, self.offline)]
        return [
            RouteChoice(r, self.providers[r.provider]) for r in model.routes if r.provider in self.providers
        ]

    def unavailable_reason(self, model: ModelSpec) -> str | None:
        """Why live requests for ``model`` cannot run, naming the credentials that would fix it."""
        if any(r.provider in self.providers for r in model.routes):
            return None
        needed = " or ".join(dict.fromkeys(missing_credential(r.provider) for r in model.routes))
        return f"no provider for {model.name} is configured; set {needed}"

    def price_route(self, model: ModelSpec) -> Route:
        """The route whose price a request is quoted at before it runs (the first usable one)."""
        choices = self.routes(model, livemode=True)
        if choices:
            return choices[0].route
        return model.routes[0]


class RoutingError(ProviderError):
    """The final failure of :meth:`RouteExecutor.execute`, carrying every failed attempt.

    Its kind/message/provider are those of the decisive failure (a refusal, the last retryable
    error, or the deadline), so callers that only know :class:`ProviderError` keep working.
    """

    def __init__(self, cause: ProviderError, failures: list[FailedAttempt]) -> None:
        super().__init__(
            cause.kind,
            cause.message,
            provider=cause.provider,
            status_code=cause.status_code,
            retry_after=cause.retry_after,
            provider_code=cause.provider_code,
        )
        self.failures = failures


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one route before falling back."""

    max_attempts: int = 3
    """Calls per route, including the first."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    """Backoff before attempt k is ``uniform(0, min(max_delay, base_delay * 2**(k-1)))``."""
    max_retry_after: float = 60.0
    """A provider asking us to wait longer than this is not retried; we fall back instead."""
    attempt_timeout: float | None = None
    """Budget of one provider call; ``None`` lets a call use all the time the request has left.
    Set it so a hung provider is abandoned in time to try the next route."""
    deadline_grace: float = 1.0
    """Extra time an adapter gets past the deadline to report its own ``TIMEOUT`` (and clean up,
    e.g. cancel an upstream job) before the executor cuts the call off."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    """Consecutive retryable failures that open a provider's breaker."""
    cooldown: float = 30.0
    """Seconds an open breaker waits before letting one probe through."""


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One provider's breaker. Not thread-safe: used from one event loop, with no awaits inside."""

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._policy.cooldown:
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a call go through now? In half-open, only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probing:
            return False
        self._state = BreakerState.HALF_OPEN
        self._probing = True
        return True

    def record_success(self) -> None:
        """The provider answered (even with a refusal): it is up."""
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._policy.failure_threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """A call ended without a verdict (cancelled): let another probe through."""
        self._probing = False

    @property
    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._policy.cooldown - self._clock())


class RouteExecutor:
    """Tries routes in order with retries and breakers; falls back only on retryable failures.

    ``clock`` must be the clock of ``ProviderRequest.deadline`` (``time.monotonic``); ``clock``,
    ``sleep`` and ``random`` are injectable so tests are fast and deterministic.
    """

    def __init__(
        self,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        observer: CallObserver | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._observer = observer
        self.breaker_policy = breaker or BreakerPolicy()
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, provider: str) -> CircuitBreaker:
        """The breaker of ``provider`` (created closed on first use)."""
        found = self._breakers.get(provider)
        if found is None:
            found = self._breakers[provider] = CircuitBreaker(self.breaker_policy, self._clock)
        return found

    def breaker_states(self) -> dict[str, BreakerState]:
        """Every known provider's breaker state, e.g. for a health endpoint."""
        return {name: b.state for name, b in self._breakers.items()}

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        cap = min(self.retry.max_delay, self.retry.base_delay * 2.0 ** (attempt - 1))
        return self._random() * cap

    async def execute(self, attempts: Sequence[RouteAttempt], on_progress: ProgressCallback) -> RouteOutcome:
        """Serve the request through the first route that succeeds.

        Raises :class:`RoutingError` (a :class:`ProviderError`) with the decisive failure.
        """
        if not attempts:
            raise ValueError("no route to execute")
        failures: list[FailedAttempt] = []
        last: ProviderError | None = None
        for attempt in attempts:
            provider = attempt.route.provider
            breaker = self.breaker(provider)
            for number in range(1, self.retry.max_attempts + 1):
                self._check_deadline(attempt.request, failures, last)
                if not breaker.allow():
                    last = ProviderError(
                        ProviderErrorKind.RETRYABLE,
                        f"{provider} is failing; its circuit breaker is open for another "
                        f"{breaker.retry_in:.0f}s",
                        provider=provider,
                        provider_code="circuit_open",
                    )
                    failures.append(_failed(attempt, last))
                    break
                logger.info(
                    "provider attempt",
                    extra={"provider": provider, "provider_model": attempt.route.model, "attempt": number},
                )
                try:
                    result = await self._call(attempt, on_progress)
                except ProviderError as exc:
                    last = exc
                    failures.append(_failed(attempt, exc))
                    if exc.kind in _FINAL:
                        breaker.record_success()  # it answered: the provider itself is up
                        raise RoutingError(exc, failures) from exc
                    breaker.record_failure()
                    logger.warning(
                        "provider %s (%s) attempt %d failed: %s [%s]",
                        provider,
                        attempt.route.model,
                        number,
                        exc.kind,
                        exc.provider_code or exc.status_code,
                    )
                    delay = self._retry_delay(exc, number, attempt.request)
                    if delay is None:
                        break  # no point retrying this route: fall back
                    await self._sleep(delay)
                    continue
                except BaseException:
                    breaker.release()  # cancelled mid-call: no verdict on the provider
                    raise
                breaker.record_success()
                return RouteOutcome(route=attempt.route, result=result, failures=failures)
        assert last is not None
        raise RoutingError(last, failures) from last

    async def _call(self, attempt: RouteAttempt, on_progress: ProgressCallback) -> ProviderResult:
        if self._observer is None:
            return await self._bounded_call(attempt, on_progress)
        started = self._clock()
        try:
            result = await self._bounded_call(attempt, on_progress)
        except ProviderError as exc:
            self._observer(attempt.route.provider, self._clock() - started, str(exc.kind))
            raise
        self._observer(attempt.route.provider, self._clock() - started, None)
        return result

    async def _bounded_call(self, attempt: RouteAttempt, on_progress: ProgressCallback) -> ProviderResult:
        """One provider call, bounded by the attempt budget and the request deadline.

        Adapters honour ``deadline`` themselves; the outer ``asyncio.timeout`` (with a little
        grace for their own TIMEOUT to surface first) guarantees it even for one that does not.
        """
        request = attempt.request
        deadline = request.deadline
        if self.retry.attempt_timeout is not None:
            budget_end = self._clock() + self.retry.attempt_timeout
            deadline = budget_end if deadline is None else min(deadline, budget_end)
            request = dataclasses.replace(request, deadline=deadline)
        if deadline is None:
            return await attempt.provider.generate(request, on_progress)
        try:
            async with asyncio.timeout(max(0.0, deadline - self._clock()) + self.retry.deadline_grace):
                return await attempt.provider.generate(request, on_progress)
        except TimeoutError:
            raise ProviderError(
                ProviderErrorKind.TIMEOUT,
                f"{attempt.route.provider} did not answer before the deadline",
                provider=attempt.route.provider,
                provider_code="provider_timeout",
            ) from None

    def _retry_delay(self, exc: ProviderError, number: int, request: ProviderRequest) -> float | None:
        """How long to wait before retrying this route, or ``None`` to move on."""
        if number >= self.retry.max_attempts:
            return None
        if exc.retry_after is not None:
            if exc.retry_after > self.retry.max_retry_after:
                return None
            delay = exc.retry_after
        else:
            delay = self.backoff(number)
        if request.deadline is not None and self._clock() + delay >= request.deadline:
            return None  # would wake after the deadline: the next route may still make it
        return delay

    def _check_deadline(
        self, request: ProviderRequest, failures: list[FailedAttempt], last: ProviderError | None
    ) -> None:
        if request.deadline is None or self._clock() < request.deadline:
            return
        provider = last.provider if last is not None else "orchestrator"
        error = ProviderError(
            ProviderErrorKind.TIMEOUT,
            "the request's deadline passed before any provider succeeded"
            + (f" (last failure: {last.message})" if last is not None else ""),
            provider=provider,
            provider_code="provider_timeout",
        )
        raise RoutingError(error, failures) from last


def _failed(attempt: RouteAttempt, exc: ProviderError) -> FailedAttempt:
    return FailedAttempt(
        provider=attempt.route.provider,
        model=attempt.route.model,
        kind=exc.kind,
        code=exc.provider_code or str(exc.kind),
        message=exc.message,
    )
