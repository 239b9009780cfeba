"""The offline renderer behind test-mode keys: a deterministic picture, clearly marked as a test.

Same (model, prompt, seed, size) always gives the same pixels, so tests and demos can assert on
images without any provider account. It honours the requested size and ``n``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

from orchestrator.providers.base import ProgressCallback, ProviderImage, ProviderRequest, ProviderResult

_BASE = 48  # render small and upscale: smooth, fast, and still unique per input


def _derive_seed(request: ProviderRequest) -> int:
    if request.seed is not None:
        return request.seed
    digest = hashlib.sha256(f"{request.catalog_model}\n{request.prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


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
            data = await asyncio.to_thread(
                render, request.catalog_model, request.prompt, seed, request.width, request.height, index
            )
            images.append(
                ProviderImage(data=data, content_type="image/png", width=request.width, height=request.height)
            )
            await on_progress((index + 1) / request.n)
        return ProviderResult(images=images, provider_job_id=None, seed=seed)

    async def aclose(self) -> None:
        return None
