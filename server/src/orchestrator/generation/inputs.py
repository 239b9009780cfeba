"""An image operation's inputs: read (upload, URL or stored image), checked, then stored.

Every input is checked (``media.input_images``) before anything is stored or charged; a refusal
is a 4xx naming the field and the rule. A stored image is found only within the caller's project
(another project's id is a 404, like any id we do not know). Inputs are stored like outputs, under
the job's id, and recorded as the job's sources, so the chain of parents and children is known.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from orchestrator.auth.principal import Principal
from orchestrator.db.engine import Database
from orchestrator.db.models import Generation, Source
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.errors import ErrorCode, InvalidRequest, NotFound
from orchestrator.generation.params import InputRef
from orchestrator.media.fetch import FetchRefused, fetch_image
from orchestrator.media.input_images import InputImage, InputImageRejected, check_input_image
from orchestrator.settings import Settings
from orchestrator.storage.base import Storage
from orchestrator.storage.images import EXTENSIONS

IMAGE_REF = re.compile(r"(gen_[0-9A-Za-z]{1,40})(?::(\d{1,2}))?")
"""A stored image: a generation id (its first image) or ``<generation id>:<index>``."""


def parse_image_ref(field: str, value: str) -> InputRef:
    """``gen_…`` or ``gen_…:N`` as an :class:`InputRef`; anything else is a 422 naming ``field``."""
    match = IMAGE_REF.fullmatch(value.strip())
    if match is None:
        raise InvalidRequest(
            f"{field} must be a generation id (gen_…) or gen_…:<image index>",
            param=field,
            code=ErrorCode.INVALID_FIELD,
        )
    return InputRef(field, generation_id=match.group(1), index=int(match.group(2) or 0))


@dataclass(frozen=True, slots=True)
class CheckedInput:
    ref: InputRef
    image: InputImage
    role: str
    stored_key: str | None = None
    """Set for an image we already store: it is referenced, not copied."""
    source_generation_id: str | None = None
    source_index: int | None = None

    @property
    def origin(self) -> str:
        if self.source_generation_id is not None:
            return "generation"
        return "url" if self.ref.url is not None else "upload"


class InputService:
    """Reads, checks and stores an operation's input images."""

    def __init__(self, *, db: Database, storage: Storage, settings: Settings) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings

    async def check(
        self, principal: Principal, images: tuple[InputRef, ...], mask: InputRef | None
    ) -> list[CheckedInput]:
        """Every input read and checked, images first, then the mask; nothing is stored."""
        refs = [(ref, "image") for ref in images] + ([(mask, "mask")] if mask is not None else [])
        checked = [await self._one(principal, ref, role) for ref, role in refs]
        if mask is not None:
            first, last = checked[0].image, checked[-1].image
            if (first.width, first.height) != (last.width, last.height):
                raise _refused(
                    "mask",
                    "mask_size",
                    f"the mask is {last.width}×{last.height}; it must be the size of the image "
                    f"({first.width}×{first.height})",
                )
            if not last.has_alpha:
                raise _refused("mask", "mask_alpha", "the mask must be a PNG with an alpha channel")
        return checked

    async def _one(self, principal: Principal, ref: InputRef, role: str) -> CheckedInput:
        max_bytes = self.settings.max_input_image_bytes
        stored_key = source_id = source_index = None
        if ref.data is not None:
            data = ref.data
        elif ref.url is not None:
            try:
                data = await fetch_image(
                    ref.url,
                    max_bytes=max_bytes,
                    time_limit=self.settings.input_url_timeout_seconds,
                    trusted_hosts=self.settings.input_url_trusted_hosts,
                )
            except FetchRefused as exc:
                raise _refused(ref.field, exc.rule, str(exc)) from exc
        else:
            assert ref.generation_id is not None
            stored_key, data = await self._stored(principal, ref)
            source_id, source_index = ref.generation_id, ref.index
        try:
            image = await asyncio.to_thread(
                check_input_image, data, max_bytes=max_bytes, max_pixels=self.settings.max_input_pixels
            )
        except InputImageRejected as exc:
            raise _refused(ref.field, exc.rule, str(exc)) from exc
        return CheckedInput(ref, image, role, stored_key, source_id, source_index)

    async def _stored(self, principal: Principal, ref: InputRef) -> tuple[str, bytes]:
        assert ref.generation_id is not None
        async with self.db.read() as session:
            job = await GenerationRepository(session).get(ref.generation_id, project=principal.project)
        # Another project's (or mode's) generation is as unknown to this caller as a made-up id.
        if job is None or job.livemode != principal.livemode:
            raise NotFound(
                f"{ref.field}: no generation {ref.generation_id}",
                param=ref.field,
                code=ErrorCode.GENERATION_NOT_FOUND,
            )
        image = next((i for i in job.images if i.idx == ref.index), None)
        if image is None or job.status != "succeeded":
            raise NotFound(
                f"{ref.field}: generation {ref.generation_id} has no image {ref.index}",
                param=ref.field,
                code=ErrorCode.NOT_FOUND,
            )
        try:
            return image.storage_key, await self.storage.get(image.storage_key)
        except FileNotFoundError as exc:
            raise NotFound(f"{ref.field}: the image is no longer stored", param=ref.field) from exc

    async def store(self, job: Generation, inputs: list[CheckedInput]) -> list[Source]:
        """Store the new inputs under the job (stored images are referenced) as its sources."""
        sources = []
        for idx, item in enumerate(inputs):
            key = item.stored_key
            if key is None:
                key = f"{job.id[-2:]}/{job.id}/in-{idx}.{EXTENSIONS[item.image.content_type]}"
                await self.storage.put(key, item.image.data, item.image.content_type)
            sources.append(
                Source(
                    generation_id=job.id,
                    idx=idx,
                    role=item.role,
                    origin=item.origin,
                    source_generation_id=item.source_generation_id,
                    source_index=item.source_index,
                    storage_key=key,
                    content_type=item.image.content_type,
                    width=item.image.width,
                    height=item.image.height,
                    bytes=len(item.image.data),
                )
            )
        return sources

    async def discard(self, sources: list[Source]) -> None:
        """Delete the files :meth:`store` wrote (the job was not written after all)."""
        for source in sources:
            if source.origin != "generation":
                await self.storage.delete(source.storage_key)


def _refused(field: str, rule: str, message: str) -> InvalidRequest:
    status = 413 if rule == "too_large" else None
    return InvalidRequest(
        f"{field}: {message} (rule: {rule})",
        param=field,
        code=ErrorCode.PAYLOAD_TOO_LARGE if status == 413 else ErrorCode.INVALID_FIELD,
        extra={"rule": rule},
    )
