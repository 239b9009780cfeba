"""Input images for the image-operation tests: real files, and the bad ones a gateway must refuse."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png(
    width: int = 64, height: int = 64, colour: tuple[int, ...] = (30, 120, 200), mode: str = "RGB"
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


def mask_png(width: int, height: int) -> bytes:
    """Opaque everywhere but a transparent top-left quarter: the area to repaint."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, width // 2, height // 2))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 40_000) -> bytes:
    """A tiny file whose header claims side × side pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (side * 3)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * 8, 9))
        + _chunk(b"IEND", b"")
    )


def truncated_png() -> bytes:
    data = png(256, 256, (10, 200, 90))
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    whole = out.getvalue() or data
    return whole[: len(whole) // 2]


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (255, 0, 0)).save(out, "GIF")
    return out.getvalue()
