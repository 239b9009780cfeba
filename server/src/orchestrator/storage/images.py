"""Image inspection and thumbnails (CPU work: call from a worker thread, never the event loop)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

_CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class InvalidImage(ValueError):
    """The bytes are not an image we can store."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    content_type: str


def inspect(data: bytes) -> ImageInfo:
    try:
        with Image.open(io.BytesIO(data)) as img:
            content_type = _CONTENT_TYPES.get(img.format or "")
            if content_type is None:
                raise InvalidImage(f"unsupported image format {img.format!r}")
            return ImageInfo(img.width, img.height, content_type)
    except (OSError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"not a readable image: {exc}") from exc


def make_thumbnail(data: bytes, max_side: int) -> bytes:
    """A WebP no larger than ``max_side`` on its longer side, aspect ratio kept."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale, much faster
        thumb = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
        thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
        out = io.BytesIO()
        thumb.save(out, "WEBP", quality=80, method=2)
        return out.getvalue()


def inspect_decoded(data: bytes) -> ImageInfo:
    """:func:`inspect`, after decoding every pixel: for formats without checksums, the only way to
    know the file is whole."""
    info = inspect(data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except (OSError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"not a readable image: {exc}") from exc
    return info
