"""fal image-to-image and edit models: the adapter against the queue emulator over loopback.

Every request carries a deadline 10 s ahead, which bounds each test.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator
from provider_emulators.fal import DEFAULT_API_KEY, FalState
from pydantic import SecretStr

from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.fal import FalProvider

Emulator = RunningEmulator[FalState]


def png(width: int, height: int) -> ProviderInput:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (250, 200, 0)).save(out, "PNG")
    return ProviderInput(out.getvalue(), "image/png", width, height)


def data_uri(image: ProviderInput) -> str:
    return "data:image/png;base64," + base64.b64encode(image.data).decode()


def provider(emulator: Emulator, client: httpx.AsyncClient) -> FalProvider:
    return FalProvider(
        client, credential=SecretStr(DEFAULT_API_KEY), base_url=emulator.base_url, poll_interval=0.05
    )


def req(model: str, operation: Operation, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("images", (png(96, 64),))
    # As the runner plans it: with no size asked, the output size is the first input's.
    kwargs.setdefault("width", kwargs["images"][0].width)
    kwargs.setdefault("height", kwargs["images"][0].height)
    return ProviderRequest(prompt="make it autumn", provider_model=model, operation=operation, **kwargs)


async def no_progress(_: float) -> None:
    pass


async def test_image_to_image_sends_data_uri_and_strength_and_keeps_the_input_size(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    source = png(96, 64)
    request = req(
        "fal-ai/flux/dev/image-to-image", Operation.IMAGE_TO_IMAGE, images=(source,), strength=0.6, seed=3
    )
    result = await provider(fal_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(96, 64)]
    (submitted,) = fal_emulator.state.calls("/fal-ai/flux/dev/image-to-image", "POST")
    assert submitted.json() == {
        "prompt": "make it autumn",
        "num_images": 1,
        "image_url": data_uri(source),
        "strength": 0.6,
        "seed": 3,
    }
    # Status and result are polled under the app id, never the subpath.
    assert fal_emulator.state.calls(f"/fal-ai/flux/requests/{result.provider_job_id}/status", "GET")


async def test_kontext_edit_with_several_images_sends_image_urls(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    first, second = png(80, 80), png(40, 40)
    request = req("fal-ai/flux-pro/kontext/max/multi", Operation.EDIT, images=(first, second))
    result = await provider(fal_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(80, 80)]
    (submitted,) = fal_emulator.state.calls("/fal-ai/flux-pro/kontext/max/multi", "POST")
    body = submitted.json()
    assert body["image_urls"] == [data_uri(first), data_uri(second)]
    assert "image_size" not in body and "strength" not in body


async def test_an_input_fal_cannot_load_is_its_422_naming_image_url(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    broken = ProviderInput(b"not an image at all", "image/png", 10, 10)
    with pytest.raises(ProviderError) as info:
        await provider(fal_emulator, http_client).generate(
            req("fal-ai/flux-pro/kontext", Operation.EDIT, images=(broken,)), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and info.value.status_code == 422
    assert "image_url: Failed to load the image" in info.value.message


async def test_flagged_image_to_image_output_is_content_policy(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.faults.update(refuse=1)
    with pytest.raises(ProviderError) as info:
        await provider(fal_emulator, http_client).generate(
            req("fal-ai/flux/dev/image-to-image", Operation.IMAGE_TO_IMAGE), no_progress
        )
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY


@pytest.mark.parametrize("operation", [Operation.UPSCALE, Operation.REMOVE_BACKGROUND, Operation.VARIATION])
async def test_unimplemented_operation_is_invalid_request_and_nothing_is_queued(
    fal_emulator: Emulator, http_client: httpx.AsyncClient, operation: Operation
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(fal_emulator, http_client).generate(req("fal-ai/flux/dev", operation), no_progress)
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert info.value.provider_code == "unsupported_operation"
    assert fal_emulator.state.count("/fal-ai/") == 0


async def test_kontext_gets_the_nearest_aspect_ratio_only_when_the_size_leaves_the_inputs(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    source = png(96, 64)  # 3:2
    adapter = provider(fal_emulator, http_client)
    await adapter.generate(req("fal-ai/flux-pro/kontext", Operation.EDIT, images=(source,)), no_progress)
    await adapter.generate(
        req("fal-ai/flux-pro/kontext", Operation.EDIT, images=(source,), width=768, height=1344), no_progress
    )
    following, portrait = (c.json() for c in fal_emulator.state.calls("/fal-ai/flux-pro/kontext", "POST"))
    assert "aspect_ratio" not in following and "image_size" not in following
    assert portrait["aspect_ratio"] == "9:16"
