"""Images a caller sends as input (an edit's source and mask, an upscale's source, …).

Everything is checked before anything is stored or charged, and cheaply first: the byte size, then
the format and the pixel count from the header alone (no pixels decoded, so a decompression bomb
costs nothing), then a full decode that catches truncated or corrupt files. Each refusal names the
rule it broke. CPU work: call :func:`check_input_image` from a worker thread.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
"""What providers accept everywhere; GIF, BMP, TIFF and the rest are refused."""


class InputImageRejected(ValueError):
    """An input image breaks a rule; ``rule`` is a short stable name, the message says what to do."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class InputImage:
    """A checked input image."""

    data: bytes
    content_type: str
    width: int
    height: int
    has_alpha: bool


def check_input_image(data: bytes, *, max_bytes: int, max_pixels: int) -> InputImage:
    """``data`` as an :class:`InputImage`, or :class:`InputImageRejected` naming the rule."""
    if not data:
        raise InputImageRejected("empty", "the image is empty")
    if len(data) > max_bytes:
        raise InputImageRejected(
            "too_large", f"the image is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit raises) on huge images; our own cap decides.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=None)
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(max_pixels) from exc
        except (OSError, ValueError) as exc:
            raise InputImageRejected(
                "unreadable", "not a readable image; send a PNG, JPEG or WebP file"
            ) from exc
        with image:
            content_type = ALLOWED_FORMATS.get(image.format or "")
            if content_type is None:
                raise InputImageRejected(
                    "format", f"{image.format or 'this'} images are not accepted; send PNG, JPEG or WebP"
                )
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise _too_many_pixels(max_pixels, width, height)
            try:
                image.load()  # the full decode: a truncated or corrupt file fails here
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise InputImageRejected(
                    "corrupt", "the image is truncated or corrupt; send the whole file"
                ) from exc
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
    return InputImage(data, content_type, width, height, has_alpha)


def _too_many_pixels(
    max_pixels: int, width: int | None = None, height: int | None = None
) -> InputImageRejected:
    size = f" ({width}×{height})" if width is not None else ""
    return InputImageRejected(
        "too_many_pixels", f"the image{size} has more than {max_pixels} pixels; scale it down"
    )
