"""Running one claimed job: route it, call the provider, store images, report the outcome.

The runner decides nothing about the job's state: it hands a :class:`Success` or a
:class:`Failure` to the lifecycle, which records it (or refuses it, when the job was canceled or
taken over meanwhile; then the runner deletes the files it stored).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from decimal import Decimal

from orchestrator.accounting.money import to_micros
from orchestrator.catalog.catalog import Route
from orchestrator.db.models import Generation, Image
from orchestrator.errors import ErrorCode
from orchestrator.generation.lifecycle import Failure, JobLifecycle, Success, Superseded
from orchestrator.generation.request import NoRoute, Planner, ResolvedRequest
from orchestrator.generation.routing import (
    OFFLINE_ROUTE,
    FailedAttempt,
    RouteAttempt,
    RouteExecutor,
    RoutingError,
)
from orchestrator.providers.base import (
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderRequest,
)
from orchestrator.storage.base import Storage, StorageError
from orchestrator.storage.images import (
    EXTENSIONS,
    ImageInfo,
    InvalidImage,
    inspect_and_thumbnail,
    make_thumbnail,
)

logger = logging.getLogger(__name__)

# How each provider failure is reported: (error code, HTTP status on the synchronous endpoint).
FAILURE_CODES: Mapping[ProviderErrorKind, ErrorCode] = {
    ProviderErrorKind.RETRYABLE: ErrorCode.PROVIDER_ERROR,
    ProviderErrorKind.TIMEOUT: ErrorCode.PROVIDER_TIMEOUT,
    ProviderErrorKind.CONTENT_POLICY: ErrorCode.CONTENT_POLICY_VIOLATION,
    ProviderErrorKind.INVALID_REQUEST: ErrorCode.PROVIDER_REJECTED_REQUEST,
    ProviderErrorKind.AUTH: ErrorCode.PROVIDER_AUTH_FAILED,
}


@dataclass(kw_only=True)
class JobRunner:
    lifecycle: JobLifecycle
    planner: Planner
    executor: RouteExecutor
    storage: Storage
    thumbnails: Executor
    thumbnail_size: int
    deadline_seconds: float

    async def run(self, job: Generation, owner: str, plan: ResolvedRequest | None = None) -> None:
        """Run ``job`` to a terminal state. Cancellation propagates (the job was canceled or lost).

        ``plan`` is the request as resolved at submission; a job claimed from the queue is
        planned from its stored row.
        """
        started = time.monotonic()
        self.lifecycle.started(job)

        async def fail(
            code: str, message: str, provider: str | None = None, trail: Sequence[FailedAttempt] = ()
        ) -> None:
            elapsed = round(time.monotonic() - started, 4)
            await self.lifecycle.fail(job, owner, Failure(code, message, provider, elapsed, tuple(trail)))

        try:
            success = await self._generate(job, owner, plan or self.planner.plan_stored(job), started)
        except ProviderError as exc:
            code = FAILURE_CODES[exc.kind]
            logger.info("job %s failed at %s: %s (%s)", job.id, exc.provider, code, exc.message)
            trail = exc.failures if isinstance(exc, RoutingError) else ()
            await fail(code, exc.message, exc.provider, trail)
        except NoRoute as exc:
            await fail(ErrorCode.MODEL_NOT_AVAILABLE, str(exc))
        except StorageError as exc:
            logger.warning("job %s: could not store the result: %s", job.id, exc)
            await fail(ErrorCode.STORAGE_ERROR, str(exc))
        except (InvalidImage, OSError) as exc:
            logger.warning("job %s: could not store the result: %s", job.id, exc)
            await fail(ErrorCode.PROVIDER_ERROR, f"unusable result: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("job %s crashed", job.id)
            await fail(ErrorCode.INTERNAL_ERROR, "the job failed inside the orchestrator; it was not charged")
        else:
            await self._record(job, owner, success)

    async def _record(self, job: Generation, owner: str, success: Success) -> None:
        """Report the success; when it is refused, delete the files this worker stored."""
        if isinstance(await self.lifecycle.succeed(job, owner, success), Superseded):
            logger.info("job %s was canceled or taken over; dropping this worker's result", job.id)
            for image in success.images:
                await self.storage.delete(image.storage_key)
                await self.storage.delete(image.thumbnail_key)

    async def _generate(self, job: Generation, owner: str, plan: ResolvedRequest, started: float) -> Success:
        if not plan.routes:
            raise NoRoute(self.planner.router.unavailable_reason(plan.model) or "no route")
        deadline = started + self.deadline_seconds
        attempts = [
            RouteAttempt(p.route, p.provider, self._request(job, plan, p.route, deadline))
            for p in plan.routes
        ]
        last_write = started  # quick jobs never write progress; long ones at most once a second

        async def on_progress(fraction: float) -> None:
            nonlocal last_write
            store = time.monotonic() - last_write >= 1.0  # keep progress writes off the hot path
            if store:
                last_write = time.monotonic()
            await self.lifecycle.progress(job, owner, max(0.0, min(1.0, fraction)), store=store)

        outcome = await self.executor.execute(attempts, on_progress)
        result = outcome.result
        if len(result.images) < job.n:
            raise RoutingError(
                ProviderError(
                    ProviderErrorKind.RETRYABLE,
                    f"asked for {job.n} images, got {len(result.images)}",
                    provider=outcome.route.provider,
                ),
                outcome.failures,
            )
        images = [await self._store(job, index, image) for index, image in enumerate(result.images[: job.n])]
        return Success(
            provider=outcome.route.provider,
            provider_model=outcome.route.model,
            provider_job_id=result.provider_job_id,
            seed=result.seed if result.seed is not None else job.seed,
            revised_prompt=result.revised_prompt,
            cost_micros=plan.price_of(outcome.route),
            provider_cost_micros=None
            if result.provider_cost is None
            else to_micros(Decimal(str(result.provider_cost))),
            provider_usage=result.usage,
            processing_time=round(time.monotonic() - started, 4),
            images=images,
            trail=tuple(outcome.failures),
        )

    def _request(
        self, job: Generation, plan: ResolvedRequest, route: Route, deadline: float
    ) -> ProviderRequest:
        params = {
            **route.params,
            **route.quality_params.get(plan.quality, {}),
            **route.native_styles.get(plan.style or "", {}),
        }
        prompt = (
            job.prompt
            if route is OFFLINE_ROUTE
            else self.planner.catalog.styled_prompt(job.prompt, plan.style, route)
        )
        return ProviderRequest(
            prompt=prompt,
            provider_model=route.model,
            width=plan.width,
            height=plan.height,
            n=plan.n,
            quality=plan.quality,
            style=plan.style,
            seed=job.seed,
            negative_prompt=job.negative_prompt,
            params=params,
            deadline=deadline,
            catalog_model=plan.model.name,
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
