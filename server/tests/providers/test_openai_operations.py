"""OpenAI edits and variations: the adapter against the emulator over real loopback HTTP.

Every request carries a deadline 10 s ahead, which bounds each test.
"""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator, parse_multipart_parts
from provider_emulators.openai import DEFAULT_API_KEY, OpenAIState
from pydantic import SecretStr

from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.openai import OpenAIProvider

Emulator = RunningEmulator[OpenAIState]


def png(width: int, height: int, mode: str = "RGB", colour: Any = (200, 30, 30)) -> ProviderInput:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return ProviderInput(out.getvalue(), "image/png", width, height)


def provider(emulator: Emulator, client: httpx.AsyncClient) -> OpenAIProvider:
    return OpenAIProvider(client, credential=SecretStr(DEFAULT_API_KEY), base_url=f"{emulator.base_url}/v1")


def req(model: str = "gpt-image-1", **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("width", 1024)
    kwargs.setdefault("height", 1024)
    return ProviderRequest(prompt="add a red hat", provider_model=model, **kwargs)


async def no_progress(_: float) -> None:
    pass


def sent_parts(emulator: Emulator, path: str) -> list[tuple[str, str | bytes]]:
    (sent,) = emulator.state.calls(path)
    parts = parse_multipart_parts(sent.body, sent.headers["content-type"])
    assert parts is not None, "edits and variations are multipart/form-data"
    return parts


async def test_gpt_image_edit_sends_two_images_as_image_array_with_mask_and_options(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    first, second = png(64, 64), png(32, 32, colour=(0, 0, 255))
    mask = png(64, 64, "RGBA", (0, 0, 0, 0))
    request = req(
        operation=Operation.EDIT,
        images=(first, second),
        mask=mask,
        quality="low",
        background="transparent",
        output_format="webp",
        output_compression=80,
        moderation="low",
    )
    result = await provider(openai_emulator, http_client).generate(request, no_progress)

    (image,) = result.images
    assert (image.content_type, image.width, image.height) == ("image/webp", 1024, 1024)
    assert result.usage is not None and result.usage["output_tokens"] == 272
    parts = sent_parts(openai_emulator, "/v1/images/edits")
    files = [(name, value) for name, value in parts if isinstance(value, bytes)]
    assert [name for name, _ in files] == ["image[]", "image[]", "mask"]
    assert files[0][1] == first.data and files[1][1] == second.data and files[2][1] == mask.data
    fields = {name: value for name, value in parts if isinstance(value, str)}
    assert fields == {
        "model": "gpt-image-1",
        "prompt": "add a red hat",
        "n": "1",
        "size": "1024x1024",
        "quality": "low",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": "80",
        "moderation": "low",
    }


async def test_dalle2_edit_sends_one_image_field_and_asks_for_b64(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("dall-e-2", width=512, height=512, operation=Operation.EDIT, images=(png(64, 64),), n=2)
    result = await provider(openai_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(512, 512)] * 2
    parts = sent_parts(openai_emulator, "/v1/images/edits")
    assert [name for name, value in parts if isinstance(value, bytes)] == ["image"]
    assert ("response_format", "b64_json") in parts


async def test_variation_goes_to_variations_without_prompt(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("dall-e-2", width=256, height=256, operation=Operation.VARIATION, images=(png(64, 64),))
    result = await provider(openai_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(256, 256)]
    fields = dict(sent_parts(openai_emulator, "/v1/images/variations"))
    assert "prompt" not in fields and fields["model"] == "dall-e-2"


async def test_variation_on_gpt_image_is_refused_before_any_call(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req(operation=Operation.VARIATION, images=(png(64, 64),)), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert "dall-e-2 only" in info.value.message
    assert openai_emulator.state.count("/v1/") == 0


@pytest.mark.parametrize(
    "operation", [Operation.UPSCALE, Operation.REMOVE_BACKGROUND, Operation.IMAGE_TO_IMAGE]
)
async def test_unimplemented_operation_is_invalid_request_not_a_text_generation(
    openai_emulator: Emulator, http_client: httpx.AsyncClient, operation: Operation
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req(operation=operation, images=(png(64, 64),), scale=2), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert operation.value in info.value.message and "does not support" in info.value.message
    assert openai_emulator.state.count("/v1/") == 0


async def test_gpt_image_options_on_dalle_are_refused_naming_them(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req("dall-e-2", width=512, height=512, background="transparent"), no_progress
        )
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and "background" in info.value.message


async def test_mask_of_another_size_is_openais_400_naming_mask(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req(operation=Operation.EDIT, images=(png(64, 64),), mask=png(32, 32, "RGBA", (0, 0, 0, 0)))
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(request, no_progress)
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST and info.value.status_code == 400
    assert "(param: mask)" in info.value.message


async def test_dalle2_edit_of_a_non_square_image_is_openais_400(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("dall-e-2", width=512, height=512, operation=Operation.EDIT, images=(png(64, 32),))
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(request, no_progress)
    assert info.value.status_code == 400 and "square" in info.value.message


async def test_refused_edit_is_content_policy(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(refuse=1)
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req(operation=Operation.EDIT, images=(png(64, 64),)), no_progress
        )
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY
    assert info.value.provider_code == "moderation_blocked"


async def test_rate_limited_edit_is_retryable_with_retry_after(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(rate_limit=1, retry_after=7)
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req(operation=Operation.EDIT, images=(png(64, 64),)), no_progress
        )
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.retry_after == 7


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize(
    ("path", "prefix"), [("/v1/images/generations", "image_generation"), ("/v1/images/edits", "image_edit")]
)
async def test_emulator_streams_partial_images_then_completed(
    openai_emulator: Emulator, http_client: httpx.AsyncClient, path: str, prefix: str
) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    fields = {"model": "gpt-image-1", "prompt": "a cat", "stream": "true", "partial_images": "2"}
    if prefix == "image_edit":
        response = await http_client.post(
            openai_emulator.base_url + path,
            headers=headers,
            data=fields,
            files={"image": ("a.png", png(64, 64).data, "image/png")},
            timeout=10,
        )
    else:
        body = {**fields, "stream": True, "partial_images": 2}
        response = await http_client.post(
            openai_emulator.base_url + path, headers=headers, json=body, timeout=10
        )

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [e["type"] for e in events] == [f"{prefix}.partial_image"] * 2 + [f"{prefix}.completed"]
    assert [e.get("partial_image_index") for e in events[:2]] == [0, 1]
    final = Image.open(io.BytesIO(base64.b64decode(events[-1]["b64_json"])))
    assert final.size == (1024, 1024) and events[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("operation", [Operation.GENERATE, Operation.EDIT])
async def test_partial_images_are_relayed_as_they_stream_then_the_final_image(
    openai_emulator: Emulator, http_client: httpx.AsyncClient, operation: Operation
) -> None:
    partials: list[tuple[int, int, int]] = []

    async def on_partial(index: int, image: ProviderImage) -> None:
        partials.append((index, image.width or 0, image.height or 0))

    images = (png(64, 64),) if operation is Operation.EDIT else ()
    request = req(operation=operation, images=images, partial_images=2, on_partial_image=on_partial)
    result = await provider(openai_emulator, http_client).generate(request, no_progress)

    assert partials == [(0, 256, 256), (1, 512, 512)]
    (image,) = result.images
    assert (image.width, image.height) == (1024, 1024)
    assert result.usage is not None and result.usage["total_tokens"] > 0
    (sent,) = openai_emulator.state.calls("/v1/images/")
    body = (
        sent.json() if operation is Operation.GENERATE else dict(sent_parts(openai_emulator, "/v1/images/"))
    )
    assert str(body["stream"]).lower() == "true" and str(body["partial_images"]) == "2"


async def test_without_a_partial_callback_nothing_is_streamed(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    await provider(openai_emulator, http_client).generate(req(partial_images=2), no_progress)
    (sent,) = openai_emulator.state.calls("/v1/images/generations")
    assert "stream" not in sent.json()


async def test_refusal_before_streaming_is_content_policy(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    async def on_partial(index: int, image: ProviderImage) -> None:
        raise AssertionError("no partial image after a refusal")

    openai_emulator.state.faults.update(refuse=1)
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req(partial_images=1, on_partial_image=on_partial), no_progress
        )
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY


async def test_output_refused_mid_stream_is_content_policy_after_the_partials(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    partials: list[int] = []

    async def on_partial(index: int, image: ProviderImage) -> None:
        partials.append(index)

    openai_emulator.state.faults.update(refuse_output=1)
    with pytest.raises(ProviderError) as info:
        await provider(openai_emulator, http_client).generate(
            req(partial_images=2, on_partial_image=on_partial), no_progress
        )
    assert partials == [0, 1]
    assert info.value.kind is ProviderErrorKind.CONTENT_POLICY
    assert info.value.provider_code == "moderation_blocked"
