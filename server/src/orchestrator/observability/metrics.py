"""Prometheus metrics: one registry per app, fed by a pure ASGI middleware, job events and the
route executor, and read at scrape time for the gauges that describe the present.

Labels are bounded on purpose: routes are templates (``/api/v1/generations/{generation_id}``),
never raw paths, and methods are the standard ones, anything else counted as ``other``; models,
providers and error kinds come from the catalog and code, never from callers. A request that
matches no route is counted under the route ``unmatched``; static files under their mount's
template (``/docs-assets/{path}``). ``_created`` samples are left out: they double the output and
say nothing a counter's reset does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.generation.events import JobEvent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
BREAKER_LEVELS = {"closed": 0, "half_open": 1, "open": 2}
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _PresentState(Collector):
    """Gauges computed when scraped: breaker states and running jobs of this process."""

    def __init__(
        self,
        breakers: Callable[[], Mapping[str, str]],
        running: Callable[[], int],
    ) -> None:
        self._breakers = breakers
        self._running = running

    def collect(self) -> Iterable[Metric]:
        state = GaugeMetricFamily(
            "orchestrator_circuit_breaker_state",
            "Provider circuit breaker: 0 closed, 1 half-open, 2 open.",
            labels=["provider"],
        )
        for provider, value in sorted(self._breakers().items()):
            state.add_metric([provider], BREAKER_LEVELS.get(value, 0))
        yield state
        yield GaugeMetricFamily(
            "orchestrator_jobs_running", "Jobs running in this process.", value=self._running()
        )


class Metrics:
    """The app's metrics. Create one per app; nothing is registered globally."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "orchestrator_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "orchestrator_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the body).",
            ["method", "route"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.generations = Counter(
            "orchestrator_generations",
            "Generations that reached a final state in this process.",
            ["model", "provider", "status", "mode", "operation"],
            registry=r,
        )
        self.cost = Counter(
            "orchestrator_generation_cost_usd",
            "Charged cost of succeeded generations, in USD.",
            ["model", "mode", "operation"],
            registry=r,
        )
        self.provider_latency = Histogram(
            "orchestrator_provider_request_duration_seconds",
            "Time of one provider call, successful or not.",
            ["provider"],
            buckets=_PROVIDER_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "orchestrator_provider_errors",
            "Failed provider calls by error class (retryable, rate_limited, timeout, content_policy, ...).",
            ["provider", "kind"],
            registry=r,
        )
        self.cache_lookups = Counter(
            "orchestrator_cache_lookups",
            "Result-cache lookups of requests that opted in: hit (served from a stored result, or "
            "joined an identical request in flight) or miss (called the provider).",
            ["result"],
            registry=r,
        )
        for result in ("hit", "miss"):
            self.cache_lookups.labels(result)
        self.jobs_queued = Gauge(
            "orchestrator_jobs_queued", "Jobs waiting for a worker (all processes).", registry=r
        )

    def watch(self, breakers: Callable[[], Mapping[str, str]], running: Callable[[], int]) -> None:
        """Report breaker states and this process's running jobs at every scrape."""
        self.registry.register(_PresentState(breakers, running))

    def on_job_event(self, event: JobEvent) -> None:
        """EventHub listener: count each generation once, when it reaches its final state."""
        if event.status not in TERMINAL:
            return
        job = event.generation
        if job is None:  # failed by recovery (worker_lost): the row was not loaded
            self.generations.labels("unknown", "none", event.status, "unknown", "unknown").inc()
            return
        mode = "live" if job.livemode else "test"
        operation = job.operation or "generate"
        self.generations.labels(job.model, job.provider or "none", job.status, mode, operation).inc()
        if job.status == "succeeded" and job.cost_micros:
            self.cost.labels(job.model, mode, operation).inc(job.cost_micros / 1_000_000)

    def on_provider_call(self, provider: str, seconds: float, error_kind: str | None) -> None:
        """Route executor observer: one provider call finished (``error_kind`` None on success)."""
        self.provider_latency.labels(provider).observe(seconds)
        if error_kind is not None:
            self.provider_errors.labels(provider, error_kind).inc()

    def on_cache_lookup(self, result: str) -> None:
        """Result-cache observer: one lookup, ``hit`` or ``miss``."""
        self.cache_lookups.labels(result).inc()

    def exposition(self) -> bytes:
        return generate_latest(_WithoutCreated(self.registry))


class _WithoutCreated:
    """A registry view that drops ``*_created`` samples (collect() builds fresh families)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def method_label(method: str) -> str:
    """The request's method if standard, else ``other``: callers choose methods freely."""
    return method if method in KNOWN_METHODS else "other"


class MetricsMiddleware:
    """Pure ASGI: counts every HTTP request by its route template, status and duration."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def _template(self, scope: Scope) -> str:
        """The matched route's full path template, e.g. ``/api/v1/generations/{generation_id}``.

        Routes of included routers know only their own part of the path; FastAPI records the
        route it selected, prefixes included, in its own scope entry. (Reading the OpenAPI
        document instead cost its whole build, about 0.4 s, on a process's first request.)
        """
        route = scope.get("route")
        if route is None:
            return self._mount_template(scope)
        fastapi_scope = scope.get("fastapi")
        selected = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
        return getattr(selected, "path_format", None) or getattr(route, "path", None) or "unmatched"

    @staticmethod
    def _mount_template(scope: Scope) -> str:
        """``/docs-assets/{path}`` for a file of a mounted app (the API reference's assets)."""
        endpoint = scope.get("endpoint")
        if endpoint is not None and "app" in scope:
            for mount in scope["app"].routes:
                if isinstance(mount, Mount) and mount.app is endpoint:
                    return f"{mount.path}/{{path}}"
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            template = self._template(scope)
            method = method_label(scope.get("method", "GET"))
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_latency.labels(method, template).observe(time.perf_counter() - started)
