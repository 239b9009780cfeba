"""Replicate image-to-image and Kontext edits: the adapter against the emulator over loopback.

Every request carries a deadline 10 s ahead, which bounds each test.
"""

from __future__ import annotations

import base64
import io
import os
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator, parse_multipart
from provider_emulators.replicate import DEFAULT_API_KEY, ReplicateState
from pydantic import SecretStr

from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.replicate import MAX_DATA_URI_BYTES, ReplicateProvider

Emulator = RunningEmulator[ReplicateState]


def png(width: int, height: int, *, noisy: bool = False) -> ProviderInput:
    image = (
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        if noisy
        else Image.new("RGB", (width, height), (20, 20, 160))
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return ProviderInput(out.getvalue(), "image/png", width, height)


def provider(emulator: Emulator, client: httpx.AsyncClient) -> ReplicateProvider:
    return ReplicateProvider(
        client, credential=SecretStr(DEFAULT_API_KEY), base_url=emulator.base_url, poll_interval=0.05
    )


def req(model: str, operation: Operation, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("images", (png(120, 80),))
    # As the runner plans it: with no size asked, the output size is the first input's.
    kwargs.setdefault("width", kwargs["images"][0].width)
    kwargs.setdefault("height", kwargs["images"][0].height)
    return ProviderRequest(prompt="paint it blue", provider_model=model, operation=operation, **kwargs)


async def no_progress(_: float) -> None:
    pass


async def test_kontext_edit_sends_input_image_as_data_uri_matching_its_aspect(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    source = png(120, 80)
    result = await provider(replicate_emulator, http_client).generate(
        req("black-forest-labs/flux-kontext-pro", Operation.EDIT, images=(source,), seed=5), no_progress
    )

    assert [(i.width, i.height) for i in result.images] == [(120, 80)]
    (created,) = replicate_emulator.state.calls(
        "/v1/models/black-forest-labs/flux-kontext-pro/predictions", "POST"
    )
    assert created.json() == {
        "input": {
            "prompt": "paint it blue",
            "input_image": "data:image/png;base64," + base64.b64encode(source.data).decode(),
            "aspect_ratio": "match_input_image",
            "seed": 5,
        }
    }
    assert created.headers["prefer"].startswith("wait=")


async def test_flux_dev_image_to_image_sends_image_and_prompt_strength(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    await provider(replicate_emulator, http_client).generate(
        req("black-forest-labs/flux-dev", Operation.IMAGE_TO_IMAGE, strength=0.7), no_progress
    )
    (created,) = replicate_emulator.state.calls("/predictions", "POST")
    model_input = created.json()["input"]
    assert model_input["prompt_strength"] == 0.7 and model_input["image"].startswith("data:image/png;base64,")
    assert "aspect_ratio" not in model_input and "input_image" not in model_input


async def test_large_input_is_uploaded_through_the_files_api(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    big = png(320, 320, noisy=True)
    assert len(big.data) > MAX_DATA_URI_BYTES
    result = await provider(replicate_emulator, http_client).generate(
        req("black-forest-labs/flux-kontext-pro", Operation.EDIT, images=(big,)), no_progress
    )

    assert [(i.width, i.height) for i in result.images] == [(320, 320)]
    (upload,) = replicate_emulator.state.calls("/v1/files", "POST")
    form = parse_multipart(upload.body, upload.headers["content-type"])
    assert form is not None and form["content"] == big.data
    (created,) = replicate_emulator.state.calls("/predictions", "POST")
    file_id = next(iter(replicate_emulator.state.uploads))
    assert created.json()["input"]["input_image"] == f"{replicate_emulator.base_url}/v1/files/{file_id}"


async def test_an_input_that_is_not_a_uri_is_replicates_422(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    source = ProviderInput(b"x", "image/png", 1, 1, url="ftp://example.invalid/a.png")
    with pytest.raises(ProviderError) as info:
        await provider(replicate_emulator, http_client).generate(
            req("black-forest-labs/flux-kontext-pro", Operation.EDIT, images=(source,)), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and info.value.status_code == 422
    assert "input.input_image" in info.value.message


async def test_refused_edit_is_content_policy(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.faults.update(refuse=1)
    with pytest.raises(ProviderError) as info:
        await provider(replicate_emulator, http_client).generate(
            req("black-forest-labs/flux-kontext-pro", Operation.EDIT), no_progress
        )
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY


@pytest.mark.parametrize("operation", [Operation.UPSCALE, Operation.REMOVE_BACKGROUND, Operation.VARIATION])
async def test_unimplemented_operation_is_invalid_request_and_nothing_is_created(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient, operation: Operation
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(replicate_emulator, http_client).generate(
            req("black-forest-labs/flux-dev", operation), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert info.value.provider_code == "unsupported_operation"
    assert replicate_emulator.state.count("/v1/") == 0
