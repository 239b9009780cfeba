"""Provenance written into the PNGs we store: the prompt, model, seed and generation id in text
chunks, as Automatic1111 (a ``parameters`` chunk) and ComfyUI files carry theirs, so an image can
be traced and re-run from the file alone. CPU work: call from a worker thread."""

from __future__ import annotations

import io
from collections.abc import Mapping

from PIL import Image, PngImagePlugin

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parameters_text(prompt: str, fields: Mapping[str, object]) -> str:
    """Automatic1111's layout: the prompt on the first line, then ``Key: value`` pairs."""
    pairs = ", ".join(f"{key}: {value}" for key, value in fields.items() if value is not None)
    return f"{prompt}\n{pairs}" if pairs else prompt


def with_provenance(png: bytes, chunks: Mapping[str, str]) -> bytes:
    """``png`` with ``chunks`` as international text (iTXt, UTF-8) chunks; other formats unchanged.

    The pixels are copied, not re-encoded lossily: PNG is lossless, and existing text chunks are kept.
    """
    if not png.startswith(PNG_SIGNATURE):
        return png
    with Image.open(io.BytesIO(png)) as image:
        info = PngImagePlugin.PngInfo()
        for key, value in getattr(image, "text", {}).items():
            if key not in chunks:
                info.add_itxt(key, value)
        for key, value in chunks.items():
            info.add_itxt(key, value)
        out = io.BytesIO()
        image.save(out, "PNG", pnginfo=info)
        return out.getvalue()


def read_provenance(png: bytes) -> dict[str, str]:
    """The text chunks of a PNG (empty for other formats)."""
    if not png.startswith(PNG_SIGNATURE):
        return {}
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return dict(getattr(image, "text", {}))
