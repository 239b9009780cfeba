"""Stability edit, upscale and image-to-image: the adapter against the emulator over loopback.

Every request carries a deadline 10 s ahead, which bounds each test.
"""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator, parse_multipart
from provider_emulators.stability import DEFAULT_API_KEY, StabilityState
from pydantic import SecretStr

from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.stability import StabilityProvider

Emulator = RunningEmulator[StabilityState]


def png(width: int, height: int, mode: str = "RGB", colour: Any = (10, 120, 40)) -> ProviderInput:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return ProviderInput(out.getvalue(), "image/png", width, height)


def provider(emulator: Emulator, client: httpx.AsyncClient) -> StabilityProvider:
    return StabilityProvider(client, credential=SecretStr(DEFAULT_API_KEY), base_url=emulator.base_url)


def req(model: str, operation: Operation, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("images", (png(256, 128),))
    kwargs.setdefault("width", 256)
    kwargs.setdefault("height", 128)
    return ProviderRequest(prompt="a green field", provider_model=model, operation=operation, **kwargs)


async def no_progress(_: float) -> None:
    pass


def form_of(emulator: Emulator, path: str) -> dict[str, str | bytes]:
    (sent,) = emulator.state.calls(path, "POST")
    form = parse_multipart(sent.body, sent.headers["content-type"])
    assert form is not None
    return form


async def test_inpaint_sends_image_and_mask_and_keeps_the_size(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    image, mask = png(256, 128), png(256, 128, "L", 255)
    request = req("edit/inpaint", Operation.EDIT, images=(image,), mask=mask, seed=7, negative_prompt="fog")
    result = await provider(stability_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(256, 128)]
    form = form_of(stability_emulator, "/v2beta/stable-image/edit/inpaint")
    assert form["image"] == image.data and form["mask"] == mask.data
    assert {k: v for k, v in form.items() if isinstance(v, str)} == {
        "prompt": "a green field",
        "negative_prompt": "fog",
        "seed": "7",
        "output_format": "png",
    }


async def test_outpaint_derives_margins_from_the_requested_size(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("edit/outpaint", Operation.EDIT, width=512, height=256)
    result = await provider(stability_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(512, 256)]
    form = form_of(stability_emulator, "/edit/outpaint")
    assert (form["left"], form["right"], form["up"], form["down"]) == ("128", "128", "64", "64")


async def test_search_and_replace_takes_search_prompt_from_route_params(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("edit/search-and-replace", Operation.EDIT, params={"search_prompt": "cow"})
    await provider(stability_emulator, http_client).generate(request, no_progress)
    assert form_of(stability_emulator, "/search-and-replace")["search_prompt"] == "cow"


async def test_remove_background_answers_a_transparent_png_without_prompt(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("edit/remove-background", Operation.REMOVE_BACKGROUND)
    (image,) = (await provider(stability_emulator, http_client).generate(request, no_progress)).images

    picture = Image.open(io.BytesIO(image.data))
    assert picture.mode == "RGBA" and picture.getpixel((0, 0))[3] == 0
    assert "prompt" not in form_of(stability_emulator, "/remove-background")


async def test_fast_upscale_is_four_times(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("upscale/fast", Operation.UPSCALE, scale=4)
    (image,) = (await provider(stability_emulator, http_client).generate(request, no_progress)).images
    assert (image.width, image.height) == (1024, 512)


async def test_fast_upscale_refuses_another_factor_before_calling(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(stability_emulator, http_client).generate(
            req("upscale/fast", Operation.UPSCALE, scale=2), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and "4x" in info.value.message
    assert stability_emulator.state.count("/v2beta/") == 0


async def test_creative_upscale_polls_the_result_id_until_the_image_is_ready(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.result_seconds = 0.3
    adapter = StabilityProvider(
        http_client,
        credential=SecretStr(DEFAULT_API_KEY),
        base_url=stability_emulator.base_url,
        poll_interval=0.05,
    )
    request = req("upscale/creative", Operation.UPSCALE, scale=4)
    (image,) = (await adapter.generate(request, no_progress)).images

    assert image.width * image.height >= 4_000_000
    polls = stability_emulator.state.calls("/v2beta/results/", "GET")
    assert len(polls) >= 2, "the first polls answer 202 in-progress"
    assert polls[-1].headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"


async def test_image_to_image_on_sd3_sends_mode_strength_and_no_aspect(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("sd3.5-large", Operation.IMAGE_TO_IMAGE, strength=0.35)
    await provider(stability_emulator, http_client).generate(request, no_progress)

    form = form_of(stability_emulator, "/generate/sd3")
    assert (form["mode"], form["strength"], form["model"]) == ("image-to-image", "0.35", "sd3.5-large")
    assert "aspect_ratio" not in form and isinstance(form["image"], bytes)


async def test_operation_the_route_lacks_is_invalid_request(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(stability_emulator, http_client).generate(
            req("upscale/fast", Operation.EDIT), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and "'edit'" in info.value.message
    assert stability_emulator.state.count("/v2beta/") == 0


async def test_bad_input_is_stabilitys_400_listing_the_field(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("edit/inpaint", Operation.EDIT, mask=png(10, 10, "L", 255))
    with pytest.raises(ProviderError) as info:
        await provider(stability_emulator, http_client).generate(request, no_progress)
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and info.value.status_code == 400
    assert "mask: must have the same dimensions as image" in info.value.message
    assert info.value.provider_code == "bad_request"


async def test_moderated_edit_is_content_policy(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(refuse=1)
    with pytest.raises(ProviderError) as info:
        await provider(stability_emulator, http_client).generate(
            req("edit/inpaint", Operation.EDIT), no_progress
        )
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY
    assert info.value.provider_code == "content_moderation"


async def test_result_gone_while_polling_is_retryable(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.expire_results = True
    adapter = StabilityProvider(
        http_client,
        credential=SecretStr(DEFAULT_API_KEY),
        base_url=stability_emulator.base_url,
        poll_interval=0.05,
        max_poll_errors=0,
    )
    with pytest.raises(ProviderError) as info:
        await adapter.generate(req("upscale/creative", Operation.UPSCALE), no_progress)
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.status_code == 404
    assert "does not exist or has expired" in info.value.message
