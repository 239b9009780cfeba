"""Freepik's Magnific upscaler and remove-background: the adapter against the emulator.

Every request carries a deadline 10 s ahead, which bounds each test.
"""

from __future__ import annotations

import base64
import io
import time
import urllib.parse
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator
from provider_emulators.freepik import DEFAULT_API_KEY, FreepikState
from pydantic import SecretStr

from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.freepik import FreepikProvider

Emulator = RunningEmulator[FreepikState]


def png(width: int, height: int, url: str | None = None) -> ProviderInput:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 60, 200)).save(out, "PNG")
    return ProviderInput(out.getvalue(), "image/png", width, height, url=url)


def provider(emulator: Emulator, client: httpx.AsyncClient) -> FreepikProvider:
    return FreepikProvider(
        client, credential=SecretStr(DEFAULT_API_KEY), base_url=emulator.base_url, poll_interval=0.05
    )


def req(model: str, operation: Operation, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("images", (png(64, 48),))
    return ProviderRequest(
        prompt="crisp details", provider_model=model, width=64, height=48, operation=operation, **kwargs
    )


async def no_progress(_: float) -> None:
    pass


async def test_upscale_sends_base64_and_scale_factor_and_polls_the_task(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    source = png(64, 48)
    request = req(
        "image-upscaler", Operation.UPSCALE, images=(source,), scale=4, params={"optimized_for": "3d_renders"}
    )
    result = await provider(freepik_emulator, http_client).generate(request, progress)

    assert [(i.width, i.height) for i in result.images] == [(256, 192)]
    (posted,) = freepik_emulator.state.calls("/v1/ai/image-upscaler", "POST")
    assert posted.json() == {
        "image": base64.b64encode(source.data).decode(),
        "scale_factor": "4x",
        "prompt": "crisp details",
        "optimized_for": "3d_renders",
    }
    polls = freepik_emulator.state.calls(f"/v1/ai/image-upscaler/{result.provider_job_id}", "GET")
    assert polls and seen and seen == sorted(seen)


async def test_upscale_factor_freepik_lacks_is_refused_before_calling(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(freepik_emulator, http_client).generate(
            req("image-upscaler", Operation.UPSCALE, scale=3), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and "3x" in info.value.message
    assert freepik_emulator.state.count("/v1/") == 0


async def test_upscale_over_25_megapixels_is_refused_before_calling(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    big = ProviderInput(png(8, 8).data, "image/png", 1000, 1000)  # 16x → 256 MP
    with pytest.raises(ProviderError) as info:
        await provider(freepik_emulator, http_client).generate(
            req("image-upscaler", Operation.UPSCALE, images=(big,), scale=16), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and "25.3 million" in info.value.message
    assert freepik_emulator.state.count("/v1/") == 0


async def test_emulator_refuses_an_oversized_upscale_in_freepiks_shape(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    # The adapter's own check is bypassed (it believes the image is small): Freepik's 400 is read.
    lying = ProviderInput(png(2000, 1000).data, "image/png", 10, 10)
    with pytest.raises(ProviderError) as info:
        await provider(freepik_emulator, http_client).generate(
            req("image-upscaler", Operation.UPSCALE, images=(lying,), scale=4), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and info.value.status_code == 400
    assert "image: The resulted image can't exceed" in info.value.message


async def test_failed_upscale_task_is_retryable(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.fail_tasks = 1
    with pytest.raises(ProviderError) as info:
        await provider(freepik_emulator, http_client).generate(
            req("image-upscaler", Operation.UPSCALE, scale=2), no_progress
        )
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.provider_code == "task_failed"


async def test_remove_background_sends_a_data_uri_and_downloads_the_cutout_at_once(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    source = png(64, 48)
    result = await provider(freepik_emulator, http_client).generate(
        req("remove-background", Operation.REMOVE_BACKGROUND, images=(source,)), no_progress
    )

    (image,) = result.images
    picture = Image.open(io.BytesIO(image.data))
    assert (picture.size, picture.mode) == ((64, 48), "RGBA") and picture.getpixel((0, 0))[3] == 0
    (posted,) = freepik_emulator.state.calls("/v1/ai/beta/remove-background", "POST")
    assert posted.headers["content-type"] == "application/x-www-form-urlencoded"
    form = urllib.parse.parse_qs(posted.body.decode())
    assert form["image_url"] == ["data:image/png;base64," + base64.b64encode(source.data).decode()]
    # Downloaded within the same call, right after the answer: the URL's 5 minutes are never relied on.
    (download,) = freepik_emulator.state.calls("/_files/", "GET")
    assert download.path.endswith("/high.png") and download.at >= posted.at
    assert "x-freepik-api-key" not in download.headers, "the key never goes to a result URL"

    # Once the URL has expired the image we hold is unaffected.
    freepik_emulator.state.faults.update(expire_urls=True)
    expired = await http_client.get(freepik_emulator.base_url + download.path, timeout=5)
    assert expired.status_code == 403
    assert Image.open(io.BytesIO(image.data)).size == (64, 48)


async def test_remove_background_result_expiring_before_download_fails_instead_of_passing_a_url(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.result_url_ttl = 0  # expired the moment it is answered
    with pytest.raises(ProviderError) as info:
        await provider(freepik_emulator, http_client).generate(
            req("remove-background", Operation.REMOVE_BACKGROUND), no_progress
        )
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.provider_code == "result_url_expired"


async def test_remove_background_prefers_the_inputs_public_url(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    source = png(40, 30)
    hosted = freepik_emulator.base_url + freepik_emulator.state.add_file(
        source.data, "image/png", name="in.png"
    )
    source = ProviderInput(source.data, "image/png", 40, 30, url=hosted)
    result = await provider(freepik_emulator, http_client).generate(
        req("remove-background", Operation.REMOVE_BACKGROUND, images=(source,)), no_progress
    )

    assert (result.images[0].width, result.images[0].height) == (40, 30)
    (posted,) = freepik_emulator.state.calls("/v1/ai/beta/remove-background", "POST")
    assert urllib.parse.parse_qs(posted.body.decode())["image_url"] == [hosted]


async def test_remove_background_bad_key_is_auth(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    adapter = FreepikProvider(http_client, credential=SecretStr("wrong"), base_url=freepik_emulator.base_url)
    with pytest.raises(ProviderError) as info:
        await adapter.generate(req("remove-background", Operation.REMOVE_BACKGROUND), no_progress)
    assert info.value.kind is ProviderErrorKind.AUTH and "Invalid API key" in info.value.message


@pytest.mark.parametrize(
    ("model", "operation"),
    [
        ("image-upscaler", Operation.REMOVE_BACKGROUND),
        ("remove-background", Operation.GENERATE),
        ("flux-dev", Operation.EDIT),
        ("mystic", Operation.UPSCALE),
    ],
)
async def test_operation_the_route_lacks_is_invalid_request(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient, model: str, operation: Operation
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(freepik_emulator, http_client).generate(req(model, operation), no_progress)
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert info.value.provider_code == "unsupported_operation"
    assert freepik_emulator.state.count("/v1/") == 0
