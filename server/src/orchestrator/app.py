"""``create_app(settings)``: the one place that builds and wires every part of the server."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator import __version__
from orchestrator.api import (
    gallery,
    generate,
    generations,
    health,
    images,
    keys,
    models,
    openai_compat,
    operations,
    usage,
    webhooks,
)
from orchestrator.api import metrics as metrics_api
from orchestrator.api.docs import install_docs
from orchestrator.api.middleware import RequestContextMiddleware
from orchestrator.auth.service import KeyService
from orchestrator.catalog.catalog import load_catalog
from orchestrator.container import Services
from orchestrator.core.clock import now_utc
from orchestrator.dashboard import routes as dashboard
from orchestrator.db.engine import Database
from orchestrator.db.migrate import upgrade_to_head
from orchestrator.db.repositories.idempotency import IdempotencyRepository
from orchestrator.db.repositories.webhooks import WebhookRepository
from orchestrator.errors import install_error_handlers
from orchestrator.gallery.service import GalleryService
from orchestrator.generation.batch import BatchService
from orchestrator.generation.cache import ResultCache
from orchestrator.generation.events import EventHub
from orchestrator.generation.idempotency import IdempotencyService
from orchestrator.generation.inputs import InputService
from orchestrator.generation.lifecycle import JobLifecycle
from orchestrator.generation.reading import ReadService
from orchestrator.generation.request import Planner
from orchestrator.generation.routing import BreakerPolicy, RetryPolicy, RouteExecutor, Router
from orchestrator.generation.runner import JobRunner
from orchestrator.generation.service import GenerationService
from orchestrator.generation.waiting import WaitService
from orchestrator.generation.worker import WorkerPool
from orchestrator.limits.concurrency import ConcurrencyGate, InProcessConcurrencyGate
from orchestrator.limits.deployment import per_process_share
from orchestrator.limits.rate import InProcessRateLimiter, RateLimiter
from orchestrator.limits.streams import StreamSlots
from orchestrator.logs import JobLifecycleLog
from orchestrator.observability.metrics import Metrics, MetricsMiddleware
from orchestrator.outbound.guard import Policy
from orchestrator.providers.offline import OfflineRenderer
from orchestrator.providers.registry import build_providers
from orchestrator.providers.transport import provider_client
from orchestrator.settings import Settings
from orchestrator.storage.base import Storage
from orchestrator.storage.local import LocalStorage
from orchestrator.storage.permissions import private_dir, private_sqlite_files
from orchestrator.storage.signing import UrlSigner
from orchestrator.storage.thumbnails import Thumbnails
from orchestrator.webhooks.delivery import Deliverer
from orchestrator.webhooks.dispatcher import WebhookDispatcher
from orchestrator.webhooks.service import WebhookService

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from orchestrator.auth.jwt import JWTVerifier
    from orchestrator.generation.bus import RedisEventBus

API_PREFIX = "/api/v1"
WEBHOOK_LOG_RETENTION = timedelta(days=30)


# The optional parts (JWT, Redis, S3) import their libraries only when configured: together they
# are about 27 MiB of every process's memory, and most deployments use none or one of them.


def _jwt_verifier(settings: Settings) -> JWTVerifier | None:
    if not (settings.jwt_secret or settings.jwt_jwks_file or settings.jwt_jwks_url):
        return None
    from orchestrator.auth.jwt import JWTVerifier

    return JWTVerifier(
        secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        jwks_file=settings.jwt_jwks_file,
        jwks_url=settings.jwt_jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        project_claim=settings.jwt_project_claim,
        scope_claim=settings.jwt_scope_claim,
    )


def _executor(settings: Settings, metrics: Metrics) -> RouteExecutor:
    return RouteExecutor(
        RetryPolicy(
            max_attempts=settings.provider_max_attempts, attempt_timeout=settings.provider_attempt_timeout
        ),
        BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold, cooldown=settings.breaker_cooldown_seconds
        ),
        observer=metrics.on_provider_call,
    )


def _redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    # Short timeouts: a dead Redis must cost a request milliseconds (then the fallback), not seconds.
    from redis.asyncio import Redis

    timeout = settings.redis_timeout_seconds
    return Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
    )


def _storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        assert settings.s3_bucket is not None  # checked by Settings
        from orchestrator.storage.s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
    return LocalStorage(settings.data_dir / "images")


def _rate_limiter(settings: Settings, redis: Redis | None) -> RateLimiter:
    if redis is None:
        return InProcessRateLimiter(share=per_process_share(settings))
    from orchestrator.limits.redis_rate import RedisRateLimiter

    return RedisRateLimiter(
        redis, prefix=settings.redis_key_prefix, fallback_processes=settings.rate_limit_fallback_processes
    )


def _concurrency_gate(settings: Settings, redis: Redis | None) -> ConcurrencyGate:
    if redis is None:
        return InProcessConcurrencyGate(processes=per_process_share(settings))
    from orchestrator.limits.redis_concurrency import RedisConcurrencyGate

    return RedisConcurrencyGate(redis, prefix=settings.redis_key_prefix)


def _bus(settings: Settings, redis: Redis | None, hub: EventHub) -> RedisEventBus | None:
    if redis is None:
        return None
    from orchestrator.generation.bus import RedisEventBus

    return RedisEventBus(redis, hub, channel=f"{settings.redis_key_prefix}events")


async def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """Construct every long-lived object. Nothing is started here."""
    metrics = metrics or Metrics()
    private_dir(settings.data_dir)
    if settings.auto_migrate:
        await upgrade_to_head(settings.db_url)
    private_sqlite_files(settings.db_url)
    db = Database(settings.db_url)
    catalog = load_catalog(settings.catalog_path)
    http = provider_client(max_connections=settings.provider_max_connections)
    providers = build_providers(settings.providers, http)
    router = Router(catalog, providers, OfflineRenderer(settings.offline_latency_seconds))
    hub = EventHub()
    hub.add_listener(JobLifecycleLog())
    redis = _redis(settings)
    gate = _concurrency_gate(settings, redis)
    hub.add_listener(metrics.on_job_event)
    executor = _executor(settings, metrics)
    storage = _storage(settings)
    thumbnails = Thumbnails(storage, size=settings.thumbnail_size, workers=settings.thumbnail_workers)
    lifecycle = JobLifecycle(db=db, hub=hub, gate=gate)
    planner = Planner(catalog, router)
    runner = JobRunner(
        lifecycle=lifecycle,
        planner=planner,
        executor=executor,
        storage=storage,
        images=thumbnails.executor,
        deadline_seconds=settings.job_deadline_seconds,
        provenance=settings.provenance_chunks,
    )
    pool = (
        WorkerPool(
            lifecycle=lifecycle,
            runner=runner,
            hub=hub,
            concurrency=settings.worker_concurrency,
            lease_seconds=settings.job_lease_seconds,
            deadline_seconds=settings.job_deadline_seconds,
            max_attempts=settings.job_max_attempts,
            poll_interval=settings.job_poll_interval,
            default_max_concurrent=settings.default_max_concurrent,
        )
        if settings.run_workers
        else None
    )
    metrics.watch(
        breakers=lambda: {name: str(state) for name, state in executor.breaker_states().items()},
        running=lambda: 0 if pool is None else len(pool.active),
    )
    rate_limiter = _rate_limiter(settings, redis)
    lifecycle.dispatcher = pool
    reading = ReadService(db)
    waiting = WaitService(db=db, hub=hub, poll_interval=settings.job_poll_interval)
    idempotency = IdempotencyService(db, lock_seconds=settings.sync_wait_seconds + 30)
    generations_service = GenerationService(
        planner=planner,
        lifecycle=lifecycle,
        waiting=waiting,
        reading=reading,
        idempotency=idempotency,
        settings=settings,
        inputs=InputService(db=db, storage=storage, settings=settings),
        cache=ResultCache(db=db, lifecycle=lifecycle, settings=settings, observer=metrics.on_cache_lookup),
    )
    webhook_policy = Policy(
        allow_private=settings.webhook_allow_private_targets,
        private_setting="ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE_TARGETS",
    )
    dispatcher = (
        WebhookDispatcher(
            db=db,
            deliverer=Deliverer(policy=webhook_policy, deadline=settings.webhook_timeout_seconds),
            max_attempts=settings.webhook_max_attempts,
            retry_base=settings.webhook_retry_base_seconds,
            poll_interval=max(settings.job_poll_interval, 1.0),
            concurrency=settings.webhook_concurrency,
            endpoint_concurrency=settings.webhook_endpoint_concurrency,
        )
        if settings.run_workers
        else None
    )
    if dispatcher is not None:
        lifecycle.webhooks_queued = dispatcher.wake
    return Services(
        settings=settings,
        db=db,
        catalog=catalog,
        router=router,
        hub=hub,
        keys=KeyService(db, _jwt_verifier(settings)),
        generations=generations_service,
        batches=BatchService(
            generations=generations_service,
            reading=reading,
            idempotency=idempotency,
            settings=settings,
            rate_limiter=rate_limiter,
        ),
        reading=reading,
        waiting=waiting,
        pool=pool,
        storage=storage,
        thumbnails=thumbnails,
        signer=UrlSigner(settings.signing_key(), settings.image_url_ttl_seconds),
        rate_limiter=rate_limiter,
        http=http,
        webhooks=WebhookService(
            db,
            policy=webhook_policy,
            max_endpoints=settings.webhook_max_endpoints,
            on_enqueue=dispatcher.wake if dispatcher is not None else lambda: None,
        ),
        gallery=GalleryService(db, storage, undo_seconds=settings.gallery_undo_seconds),
        webhook_dispatcher=dispatcher,
        redis=redis,
        concurrency=gate,
        streams=StreamSlots(settings.max_streams_per_key),
        bus=_bus(settings, redis, hub),
        metrics=metrics,
    )


async def _purge_idempotency_keys(session: AsyncSession, ttl_seconds: int) -> int:
    return await IdempotencyRepository(session).purge(now_utc() - timedelta(seconds=ttl_seconds))


async def _purge_webhook_deliveries(session: AsyncSession) -> int:
    return await WebhookRepository(session).purge(now_utc() - WEBHOOK_LOG_RETENTION)


async def _start_components(stack: contextlib.AsyncExitStack, services: Services) -> None:
    """Start every long-lived part in dependency order; ``stack`` closes them in reverse, each one
    even when another's start-up or shutdown raised (no hand-ordered, exception-unsafe list)."""
    stack.push_async_callback(services.db.dispose)
    if services.redis is not None:
        stack.push_async_callback(services.redis.aclose)
    await services.storage.start()
    stack.push_async_callback(services.storage.aclose)
    stack.push_async_callback(services.thumbnails.aclose)
    stack.push_async_callback(services.rate_limiter.aclose)
    stack.push_async_callback(services.http.aclose)
    for provider in services.router.providers.values():
        stack.push_async_callback(provider.aclose)
    stack.push_async_callback(services.keys.flush_last_used)
    if services.bus is not None:
        await services.bus.start()
        stack.push_async_callback(services.bus.stop)
    if services.webhook_dispatcher is not None:
        await services.webhook_dispatcher.start()
        stack.push_async_callback(services.webhook_dispatcher.stop)
    if services.pool is not None:
        await services.pool.start()
        stack.push_async_callback(services.pool.stop)
    chores = asyncio.create_task(_housekeeping(services), name="housekeeping")
    stack.push_async_callback(_cancel, chores)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _housekeeping(services: Services) -> None:
    """Periodic chores that must never run per request."""
    ttl = services.settings.idempotency_ttl_seconds
    while True:
        await asyncio.sleep(30)
        try:
            await services.keys.flush_last_used()
            await services.db.transaction(functools.partial(_purge_idempotency_keys, ttl_seconds=ttl))
            await services.db.transaction(_purge_webhook_deliveries)
            await services.gallery.purge_due()
        except Exception:
            logger.exception("housekeeping failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await build_services(settings, metrics)
        app.state.services = services
        # Keys live in one database: say which, so a key made elsewhere is easy to explain.
        logger.info("database: %s (chosen by %s)", settings.database_label(), settings.database_chosen_by)
        # Start-up objects (catalog, app, engines) never become garbage: keep the collector from
        # rescanning them, and let young collections run less often. With thousands of jobs in
        # flight, full collections otherwise cost more per request the more requests are alive.
        gc.freeze()
        gc.set_threshold(10_000, 20, 50)
        async with contextlib.AsyncExitStack() as stack:
            await _start_components(stack, services)
            yield

    app = FastAPI(
        title="Freepik AI Orchestrator",
        version=__version__,
        summary="One API, one bill and one history for every AI image model.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, with local assets
        redoc_url=None,
    )
    install_error_handlers(app, dialects=[(openai_compat.PREFIX + "/", openai_compat.openai_status)])
    upload_paths = frozenset(
        [API_PREFIX + path for path in operations.PATHS.values()]
        + [openai_compat.PREFIX + path for path in openai_compat.UPLOAD_PATHS]
    )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        upload_paths=upload_paths,
        max_upload_body_bytes=settings.max_upload_body_bytes,
    )
    if settings.metrics_enabled:
        app.add_middleware(MetricsMiddleware, metrics=metrics)
        app.include_router(metrics_api.router)
    for module in (generate, generations, operations, gallery, models, usage, keys, webhooks, images):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(openai_compat.router)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    install_docs(app)
    return app
