"""Running one claimed job: route it, call the provider, store images, price it, record the outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.accounting.money import to_micros
from orchestrator.catalog.catalog import Catalog, ModelSpec, Route, parse_size, route_price
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation, Image
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.db.repositories.webhooks import WebhookRepository
from orchestrator.generation.events import EventHub, JobEvent
from orchestrator.generation.routing import RouteAttempt, RouteExecutor
from orchestrator.generation.states import ErrorCode, JobStatus
from orchestrator.limits.concurrency import ConcurrencyGate, principal_slot
from orchestrator.providers.base import (
    Provider,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderRequest,
)
from orchestrator.providers.registry import missing_credential
from orchestrator.storage.base import Storage, StorageError
from orchestrator.storage.images import (
    EXTENSIONS,
    ImageInfo,
    InvalidImage,
    inspect_and_thumbnail,
    make_thumbnail,
)

logger = logging.getLogger(__name__)

OFFLINE_ROUTE = Route(provider="offline", model="test-render")

# How each provider failure is reported: (error code, HTTP status on the synchronous endpoint).
FAILURE_CODES: Mapping[ProviderErrorKind, ErrorCode] = {
    ProviderErrorKind.RETRYABLE: ErrorCode.PROVIDER_ERROR,
    ProviderErrorKind.TIMEOUT: ErrorCode.PROVIDER_TIMEOUT,
    ProviderErrorKind.CONTENT_POLICY: ErrorCode.CONTENT_POLICY_VIOLATION,
    ProviderErrorKind.INVALID_REQUEST: ErrorCode.PROVIDER_REJECTED_REQUEST,
    ProviderErrorKind.AUTH: ErrorCode.PROVIDER_AUTH_FAILED,
}


class NoRoute(Exception):
    """No configured provider can serve the model (live mode)."""


def now_utc() -> datetime:
    return datetime.now(UTC)


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

    def candidate_routes(self, model: ModelSpec, *, livemode: bool) -> list[Route]:
        """Every route that may serve a request for ``model`` (what a budget reserves against)."""
        return [choice.route for choice in self.routes(model, livemode=livemode)] or list(model.routes)

    def price_route(self, model: ModelSpec) -> Route:
        """The route whose price a request is quoted at before it runs (the first usable one)."""
        choices = self.routes(model, livemode=True)
        if choices:
            return choices[0].route
        return model.routes[0]


class JobRunner:
    def __init__(
        self,
        *,
        db: Database,
        router: Router,
        executor: RouteExecutor,
        storage: Storage,
        hub: EventHub,
        thumbnails: Executor,
        thumbnail_size: int,
        deadline_seconds: float,
        gate: ConcurrencyGate,
    ) -> None:
        self.gate = gate
        self.db = db
        self.router = router
        self.executor = executor
        self.storage = storage
        self.hub = hub
        self.thumbnails = thumbnails
        self.thumbnail_size = thumbnail_size
        self.deadline_seconds = deadline_seconds

    async def run(self, job: Generation, owner: str) -> None:
        """Run ``job`` to a terminal state. Cancellation propagates (the job was canceled or lost)."""
        started = time.monotonic()
        self.hub.publish(JobEvent(job.id, JobStatus.RUNNING, job.progress))
        try:
            values, images = await self._generate(job, owner, started)
        except ProviderError as exc:
            code = FAILURE_CODES[exc.kind]
            logger.info("job %s failed at %s: %s (%s)", job.id, exc.provider, code, exc.message)
            await self._finish(job, owner, self._failure(code, exc.message, exc.provider, started))
        except NoRoute as exc:
            await self._finish(
                job, owner, self._failure(ErrorCode.MODEL_NOT_AVAILABLE, str(exc), None, started)
            )
        except StorageError as exc:
            logger.warning("job %s: could not store the result: %s", job.id, exc)
            await self._finish(job, owner, self._failure(ErrorCode.STORAGE_ERROR, str(exc), None, started))
        except (InvalidImage, OSError) as exc:
            logger.warning("job %s: could not store the result: %s", job.id, exc)
            await self._finish(
                job, owner, self._failure(ErrorCode.PROVIDER_ERROR, f"unusable result: {exc}", None, started)
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("job %s crashed", job.id)
            await self._finish(
                job,
                owner,
                self._failure(
                    ErrorCode.INTERNAL_ERROR,
                    "the job failed inside the orchestrator; it was not charged",
                    None,
                    started,
                ),
            )
        else:
            await self._finish(job, owner, values, images)

    async def _generate(
        self, job: Generation, owner: str, started: float
    ) -> tuple[dict[str, Any], list[Image]]:
        model = self.router.catalog.get(job.model)
        if model is None:
            raise NoRoute(f"model {job.model!r} is no longer in the catalog")
        choices = self.router.routes(model, livemode=job.livemode)
        if not choices:
            raise NoRoute(self.router.unavailable_reason(model) or "no route")
        width, height = parse_size(job.size)
        deadline = started + self.deadline_seconds
        attempts = [
            RouteAttempt(c.route, c.provider, self._request(job, c.route, width, height, deadline))
            for c in choices
        ]
        last_write = started  # quick jobs never write progress; long ones at most once a second

        async def on_progress(fraction: float) -> None:
            nonlocal last_write
            fraction = max(0.0, min(1.0, fraction))
            self.hub.publish(JobEvent(job.id, JobStatus.RUNNING, fraction))
            if time.monotonic() - last_write >= 1.0:  # keep progress writes off the hot path
                last_write = time.monotonic()
                await self.db.transaction(
                    lambda session: GenerationRepository(session).set_progress(job.id, owner, fraction)
                )

        outcome = await self.executor.execute(attempts, on_progress)
        result = outcome.result
        if len(result.images) < job.n:
            raise ProviderError(
                ProviderErrorKind.RETRYABLE,
                f"asked for {job.n} images, got {len(result.images)}",
                provider=outcome.route.provider,
            )
        images = [await self._store(job, index, image) for index, image in enumerate(result.images[: job.n])]
        price = route_price(model, outcome.route, job.size, job.quality, job.n)
        values: dict[str, Any] = {
            "status": JobStatus.SUCCEEDED,
            "progress": 1.0,
            "provider": outcome.route.provider,
            "provider_model": outcome.route.model,
            "provider_job_id": result.provider_job_id,
            "seed": result.seed if result.seed is not None else job.seed,
            "revised_prompt": result.revised_prompt,
            "cost_micros": None if price is None else to_micros(price),
            "provider_cost_micros": None
            if result.provider_cost is None
            else to_micros(Decimal(str(result.provider_cost))),
            "provider_usage": result.usage,
            "finished_at": now_utc(),
            "processing_time": round(time.monotonic() - started, 4),
            "error_code": None,
            "error_message": None,
        }
        return values, images

    def _request(
        self, job: Generation, route: Route, width: int, height: int, deadline: float
    ) -> ProviderRequest:
        params = {
            **route.params,
            **route.quality_params.get(job.quality, {}),
            **route.native_styles.get(job.style or "", {}),
        }
        prompt = (
            job.prompt
            if route is OFFLINE_ROUTE
            else self.router.catalog.styled_prompt(job.prompt, job.style, route)
        )
        return ProviderRequest(
            prompt=prompt,
            provider_model=route.model,
            width=width,
            height=height,
            n=job.n,
            quality=job.quality,
            style=job.style,
            seed=job.seed,
            negative_prompt=job.negative_prompt,
            params=params,
            deadline=deadline,
            catalog_model=job.model,
        )

    async def _store(self, job: Generation, index: int, image: ProviderImage | bytes) -> Image:
        """Store the provider's bytes as they are (no re-encode) and a WebP thumbnail."""
        loop = asyncio.get_running_loop()
        if isinstance(image, bytes):  # bytes of unknown type: read the header here
            image = ProviderImage(data=image, content_type="")
        data = image.data
        if image.width and image.height and image.content_type in EXTENSIONS:
            # The adapter already read the header; Pillow opens the image once, for the thumbnail.
            info = ImageInfo(image.width, image.height, image.content_type)
            thumbnail = await loop.run_in_executor(self.thumbnails, make_thumbnail, data, self.thumbnail_size)
        else:
            info, thumbnail = await loop.run_in_executor(
                self.thumbnails, inspect_and_thumbnail, data, self.thumbnail_size
            )
        # No tenant name (URLs get shared); the attempt keeps a worker that lost its lease from
        # ever deleting the files of the worker that took the job over.
        base = f"{job.id[-2:]}/{job.id}/{job.attempts}-{index}"
        key = f"{base}.{EXTENSIONS[info.content_type]}"
        thumb_key = f"{base}.thumb.webp"
        await asyncio.gather(
            self.storage.put(key, data, info.content_type),
            self.storage.put(thumb_key, thumbnail, "image/webp"),
        )
        return Image(
            idx=index,
            storage_key=key,
            thumbnail_key=thumb_key,
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            bytes=len(data),
        )

    @staticmethod
    def _failure(code: str, message: str, provider: str | None, started: float) -> dict[str, Any]:
        return {
            "status": JobStatus.FAILED,
            "error_code": code,
            "error_message": message,
            "provider": provider,
            "cost_micros": 0,  # failed generations are never charged
            "finished_at": now_utc(),
            "processing_time": round(time.monotonic() - started, 4),
        }

    async def _finish(
        self, job: Generation, owner: str, values: dict[str, Any], images: list[Image] | None = None
    ) -> None:
        async def record(session: AsyncSession) -> bool:
            if not await GenerationRepository(session).finish(
                job.id, owner, values, images or [], attempt=job.attempts
            ):
                return False
            # Same transaction: the webhook event exists if and only if the outcome does.
            await WebhookRepository(session).enqueue(job, values, now_utc())
            return True

        recorded = await self.db.transaction(record)
        if recorded:
            await self.gate.release(principal_slot(job.project, job.subject or job.api_key_id or ""))
            for name, value in values.items():
                setattr(job, name, value)
            set_committed_value(job, "images", images or [])  # a detached copy: no lazy load
            job.lease_owner = job.lease_expires_at = None
            self.hub.publish(JobEvent(job.id, job.status, job.progress, job))
        else:
            logger.info("job %s was canceled or taken over; dropping this worker's result", job.id)
            for image in images or []:
                await self.storage.delete(image.storage_key)
                await self.storage.delete(image.thumbnail_key)
