"""The offline renderer behind test-mode keys: a deterministic picture, clearly marked as a test.

Same (model, prompt, seed, size) always gives the same pixels, so tests and demos can assert on
images without any provider account. It honours the requested size and ``n``.

Every image operation is done for real, deterministically (``transform``): an edit paints the
masked area (or, without a mask, the middle of the image) with a prompt-derived colour and the
"TEST RENDER" mark; an upscale resizes by the factor; remove_background makes the pixels close to
the corner colour transparent; variation and image_to_image derive from the input pixels and the
seed. Output options (``output_format``, ``output_compression``, ``background``) are honoured.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import random
import textwrap

from PIL import Image, ImageChops, ImageDraw, ImageFont

from orchestrator.providers.base import (
    Operation,
    ProgressCallback,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)

_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}

_BASE = 48  # render small and upscale: smooth, fast, and still unique per input


def _derive_seed(request: ProviderRequest) -> int:
    if request.seed is not None:
        return request.seed
    inputs = b"".join(hashlib.sha256(i.data).digest() for i in request.images)
    digest = hashlib.sha256(f"{request.catalog_model}\n{request.prompt}".encode() + inputs).digest()
    return int.from_bytes(digest[:4], "big")


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    """The colour an edit paints with: a pure function of the prompt."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGBA")


def _mark(image: Image.Image, text: str = "TEST RENDER") -> None:
    draw = ImageDraw.Draw(image)
    scale = max(10, min(image.size) // 22)
    draw.rectangle((0, 0, image.width, int(scale * 1.8)), fill=(0, 0, 0, 255))
    draw.text((scale // 2, scale // 4), text, font=_font(scale), fill=(255, 214, 0, 255))


def _cut_background(image: Image.Image) -> Image.Image:
    """Pixels within a fixed distance of the top-left corner's colour become transparent."""
    rgba = image.convert("RGBA")
    corner = Image.new("RGB", rgba.size, rgba.getpixel((0, 0))[:3])  # type: ignore[index]
    distance = ImageChops.difference(rgba.convert("RGB"), corner).convert("L")
    alpha = distance.point(lambda v: 0 if v < 24 else 255)
    rgba.putalpha(ImageChops.multiply(alpha, rgba.getchannel("A")))
    return rgba


def transform(request: ProviderRequest, seed: int, index: int = 0) -> Image.Image:
    """One result of an image operation, as RGBA. Pure function of the request, seed and index."""
    op = request.operation
    source = _open(request.images[0].data)
    size = (request.width, request.height)
    if op is Operation.UPSCALE:
        return source.resize(size, Image.Resampling.LANCZOS)
    if op is Operation.REMOVE_BACKGROUND:
        return _cut_background(source.resize(size, Image.Resampling.LANCZOS))
    base = source.resize(size, Image.Resampling.BILINEAR)
    if op is Operation.EDIT:
        paint = Image.new("RGBA", size, (*prompt_colour(f"{request.prompt}|{index}"), 255))
        if request.mask is not None:
            # The mask's transparent pixels are the ones to repaint (OpenAI's convention).
            alpha = _open(request.mask.data).resize(size, Image.Resampling.NEAREST).getchannel("A")
            where = alpha.point(lambda v: 255 if v == 0 else 0)
        else:
            where = Image.new("L", size, 0)
            w, h = size
            ImageDraw.Draw(where).rectangle((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=255)
        edited = Image.composite(paint, base, where)
        for offset, extra in enumerate(request.images[1:], start=1):
            tile = _open(extra.data).resize((max(1, size[0] // 8), max(1, size[1] // 8)))
            edited.paste(tile, (offset * (size[0] // 8) % size[0], size[1] - tile.height))
        _mark(edited)
        return edited
    rng = random.Random(f"{request.catalog_model}|{request.prompt}|{seed}|{index}")
    if op is Operation.VARIATION:
        shifts = [rng.randrange(-60, 61) for _ in range(3)]
        channels = [
            c.point(lambda v, d=d: max(0, min(255, v + d)))
            for c, d in zip(base.split()[:3], shifts, strict=True)
        ]
        varied = Image.merge("RGBA", (*channels, base.getchannel("A")))
        _mark(varied)
        return varied
    # image_to_image: the render of the prompt blended over the input, ``strength`` of the way.
    strength = 0.5 if request.strength is None else request.strength
    rendered = _open(render(request.catalog_model, request.prompt, seed, size[0], size[1], index))
    return Image.blend(base, rendered, strength)


def encode(image: Image.Image, request: ProviderRequest) -> tuple[bytes, str]:
    """``image`` in the requested output format (PNG by default), honouring the background."""
    fmt, content_type = _FORMATS[request.output_format or "png"]
    if request.background == "transparent" and request.operation is Operation.GENERATE:
        image = _cut_background(image)
    elif request.background == "opaque" or fmt == "JPEG":
        image = image.convert("RGB")
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG", compress_level=1)
    else:
        quality = 100 if request.output_compression is None else request.output_compression
        image.save(out, fmt, quality=quality)
    return out.getvalue(), content_type


def produce(request: ProviderRequest, seed: int, index: int) -> tuple[bytes, str]:
    """One result of any operation, encoded."""
    if request.operation is Operation.GENERATE:
        png = render(request.catalog_model, request.prompt, seed, request.width, request.height, index)
        if not (
            request.output_format not in (None, "png") or request.background in ("transparent", "opaque")
        ):
            return png, "image/png"
        return encode(_open(png), request)
    return encode(transform(request, seed, index), request)


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def render(model: str, prompt: str, seed: int, width: int, height: int, index: int = 0) -> bytes:
    """Render one PNG. Pure function of its arguments."""
    rng = random.Random(f"{model}|{prompt}|{seed}|{index}")
    corners = Image.new("RGB", (2, 2))
    corners.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(4)])
    # Upscaling four pixels bilinearly is a smooth four-corner gradient, computed in C.
    small = corners.resize((_BASE, _BASE), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(small)
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.randrange(_BASE), rng.randrange(_BASE)
        r = rng.randint(3, _BASE // 3)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=colour)
    image = small.resize((width, height), Image.Resampling.BILINEAR)

    draw = ImageDraw.Draw(image)
    scale = max(12, min(width, height) // 22)
    banner = _font(scale * 2)
    body = _font(scale)
    band = int(scale * 3.2)
    draw.rectangle((0, 0, width, band), fill=(0, 0, 0))
    draw.text((scale, scale // 2), "TEST RENDER", font=banner, fill=(255, 214, 0))
    caption = f"{model} · seed {seed}" + (f" · #{index + 1}" if index else "")
    lines = [caption, *textwrap.wrap(prompt, width=max(16, int(width / (scale * 0.6))))[:3]]
    y = height - band - scale * len(lines)
    draw.rectangle((0, y - scale // 2, width, height), fill=(0, 0, 0))
    for line in lines:
        draw.text((scale, y), line, font=body, fill=(255, 255, 255))
        y += int(scale * 1.3)

    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)  # speed over size: these images are throwaway
    return out.getvalue()


class OfflineRenderer:
    """A :class:`~orchestrator.providers.base.Provider` that never leaves the process.

    ``latency`` simulates a provider's generation time (with progress), for demos, client
    development and benchmarks.
    """

    name = "offline"

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        seed = _derive_seed(request)
        steps = 4
        for step in range(steps if self.latency > 0 else 0):
            await asyncio.sleep(self.latency / steps)
            await on_progress(0.8 * (step + 1) / steps)
        images = []
        for index in range(request.n):
            data, content_type = await asyncio.to_thread(produce, request, seed, index)
            images.append(
                ProviderImage(
                    data=data, content_type=content_type, width=request.width, height=request.height
                )
            )
            await on_progress((index + 1) / request.n)
        return ProviderResult(images=images, provider_job_id=None, seed=seed)

    async def aclose(self) -> None:
        return None
