"""WebP thumbnails, made the first time one is asked for and stored beside their image.

Making one decodes and resizes the whole image (tens of milliseconds for 1024 × 1024), work that a
job used to do before answering although many thumbnails are never looked at. A thumbnail's key
is its image's key plus :data:`SUFFIX`, so the image it comes from needs no lookup. Two first
requests at once both make it and store the same bytes, which is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from orchestrator.storage.base import Storage
from orchestrator.storage.images import EXTENSIONS, InvalidImage, make_thumbnail

logger = logging.getLogger(__name__)

SUFFIX = ".thumb.webp"
_IMAGE_EXTENSIONS = frozenset(EXTENSIONS.values())


def thumbnail_key(image_key: str) -> str:
    """Where the thumbnail of the image stored at ``image_key`` is (or will be) stored."""
    return image_key + SUFFIX


class Thumbnails:
    """Makes missing thumbnails on request, on its own threads (image work never runs on the
    event loop); the threads also serve the image checks of the job runner."""

    def __init__(self, storage: Storage, *, size: int, workers: int) -> None:
        self.storage = storage
        self.size = size
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="images")

    async def aclose(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def make(self, key: str) -> bytes | None:
        """The thumbnail ``key`` names, made from its image and stored; None when ``key`` is not
        a thumbnail key or its image is gone. Storage failures raise ``StorageError``."""
        if not key.endswith(SUFFIX):
            return None
        source = key.removesuffix(SUFFIX)
        if source.rsplit(".", 1)[-1] not in _IMAGE_EXTENSIONS:
            return None  # the older naming ({base}.thumb.webp), whose thumbnails were made eagerly
        try:
            data = await self.storage.get(source)
        except FileNotFoundError:
            return None
        loop = asyncio.get_running_loop()
        try:
            thumbnail = await loop.run_in_executor(self.executor, make_thumbnail, data, self.size)
        except (InvalidImage, OSError) as exc:  # stored images were checked; say so if not
            logger.warning("could not make the thumbnail %s: %s", key, exc)
            return None
        await self.storage.put(key, thumbnail, "image/webp")
        return thumbnail
