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
from functools import partial

from orchestrator.accounting.money import to_micros
from orchestrator.catalog.catalog import Route
from orchestrator.db.models import Generation, Image
from orchestrator.errors import ErrorCode
from orchestrator.generation.lifecycle import JobLifecycle
from orchestrator.generation.outcomes import Failure, Success, Superseded
from orchestrator.generation.request import NoRoute, Planner, ResolvedRequest
from orchestrator.generation.routing import (
    OFFLINE_ROUTE,
    FailedAttempt,
    RouteAttempt,
    RouteExecutor,
    RoutingError,
)
from orchestrator.media.provenance import (
    PNG_SIGNATURE,
    CorruptImage,
    check_png,
    parameters_text,
    with_provenance,
)
from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.storage.base import Storage, StorageError
from orchestrator.storage.images import EXTENSIONS, ImageInfo, InvalidImage, inspect, inspect_decoded
from orchestrator.storage.thumbnails import thumbnail_key

logger = logging.getLogger(__name__)

_INLINE_PNG_BYTES = 1 << 20
"""PNGs up to this size are checked on the event loop (well under a millisecond); larger ones on a
thread, so one huge file cannot stall every other request."""


def _checked(png: bytes) -> bytes:
    check_png(png)
    return png


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
    images: Executor
    """Threads for image work that may take long (a large PNG's check, decoding other formats)."""
    deadline_seconds: float
    provenance: bool = True
    """Write provenance text chunks into stored PNGs."""

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
        except (InvalidImage, CorruptImage, OSError) as exc:
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
        images, mask = await self._inputs(job)
        attempts = [
            RouteAttempt(p.route, p.provider, self._request(job, plan, p.route, deadline, images, mask))
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
        seed = result.seed if result.seed is not None else job.seed
        stored = [
            await self._store(job, index, image, outcome.route.model, seed)
            for index, image in enumerate(result.images[: job.n])
        ]
        return Success(
            provider=outcome.route.provider,
            provider_model=outcome.route.model,
            provider_job_id=result.provider_job_id,
            seed=seed,
            revised_prompt=result.revised_prompt,
            cost_micros=plan.price_of(outcome.route),
            provider_cost_micros=None
            if result.provider_cost is None
            else to_micros(Decimal(str(result.provider_cost))),
            provider_usage=result.usage,
            processing_time=round(time.monotonic() - started, 4),
            images=stored,
            trail=tuple(outcome.failures),
            budgeted=plan.budgeted,
        )

    async def _inputs(self, job: Generation) -> tuple[tuple[ProviderInput, ...], ProviderInput | None]:
        """The job's input images, read back from storage (the same for every route)."""
        images: list[ProviderInput] = []
        mask = None
        for source in job.sources:
            item = ProviderInput(
                await self.storage.get(source.storage_key), source.content_type, source.width, source.height
            )
            if source.role == "mask":
                mask = item
            else:
                images.append(item)
        return tuple(images), mask

    def _request(
        self,
        job: Generation,
        plan: ResolvedRequest,
        route: Route,
        deadline: float,
        images: tuple[ProviderInput, ...] = (),
        mask: ProviderInput | None = None,
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
        extra = plan.operation_params
        partials = int(extra.get("partial_images") or 0)

        async def on_partial_image(index: int, image: ProviderImage) -> None:
            self.lifecycle.partial_image(job, index, image)

        return ProviderRequest(
            prompt=prompt,
            provider_model=route.provider_model(plan.operation),
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
            operation=Operation(plan.operation),
            images=images,
            mask=mask,
            strength=extra.get("strength"),
            scale=extra.get("factor", extra.get("scale")),  # "scale": jobs stored before the rename
            output_format=extra.get("output_format"),
            output_compression=extra.get("output_compression"),
            background=extra.get("background"),
            moderation=extra.get("moderation"),
            partial_images=partials,
            on_partial_image=on_partial_image if partials else None,
        )

    async def _store(
        self,
        job: Generation,
        index: int,
        image: ProviderImage | bytes,
        provider_model: str | None = None,
        seed: int | None = None,
    ) -> Image:
        """Check and store the provider's bytes (PNGs gain provenance text chunks; pixels are
        never re-encoded). The thumbnail is made when first asked for (``storage.thumbnails``)."""
        if isinstance(image, bytes):  # bytes of unknown type: read the header here
            image = ProviderImage(data=image, content_type="")
        data = image.data
        if data.startswith(PNG_SIGNATURE):
            # Walking the chunks checks every CRC, so a file cut short or damaged on its way here
            # fails the job, uncharged, without decoding a pixel. Large files leave the loop.
            stamp = partial(with_provenance, chunks=self._chunks(job, seed)) if self.provenance else _checked
            if len(data) > _INLINE_PNG_BYTES:
                data = await asyncio.get_running_loop().run_in_executor(self.images, stamp, data)
            else:
                data = stamp(data)
            if image.width and image.height and image.content_type in EXTENSIONS:
                info = ImageInfo(image.width, image.height, image.content_type)  # the adapter read it
            else:
                info = inspect(data)  # the header only
        else:
            # Other formats carry no checksums: decoding them whole is the only check.
            info = await asyncio.get_running_loop().run_in_executor(self.images, inspect_decoded, data)
        # No tenant name (URLs get shared); the attempt keeps a worker that lost its lease from
        # ever deleting the files of the worker that took the job over.
        key = f"{job.id[-2:]}/{job.id}/{job.attempts}-{index}.{EXTENSIONS[info.content_type]}"
        await self.storage.put(key, data, info.content_type)
        return Image(
            idx=index,
            storage_key=key,
            thumbnail_key=thumbnail_key(key),
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            bytes=len(data),
        )

    @staticmethod
    def _chunks(job: Generation, seed: int | None) -> dict[str, str]:
        fields: dict[str, object] = {
            "Seed": seed,
            "Model": job.model,
            "Operation": None if job.operation in (None, "generate") else job.operation,
            "Size": job.size,
            "Generation id": job.id,
        }
        sources = [s.source_generation_id for s in job.sources if s.source_generation_id]
        if sources:
            fields["Sources"] = " ".join(dict.fromkeys(sources))
        return {
            "parameters": parameters_text(job.prompt, fields),
            "generation_id": job.id,
            "model": job.model,
            **({"seed": str(seed)} if seed is not None else {}),
        }
