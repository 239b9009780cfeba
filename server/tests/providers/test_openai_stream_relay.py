"""`stream: true` with `partial_images` on the OpenAI-compatible door relays the partial images
the provider streams (`image_generation.partial_image`, `image_edit.partial_image`) before the
completed event. The real `openai` package against our server, which calls the OpenAI emulator
with a live key."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import openai
import pytest
from image_inputs import png
from PIL import Image
from provider_emulators import openai as openai_emu
from pydantic import SecretStr

from orchestrator.settings import ProviderCredentials

pytestmark = pytest.mark.asgi


async def _sdk(start_server: Any, emulator: Any) -> tuple[Any, openai.AsyncOpenAI]:
    providers = ProviderCredentials(  # type: ignore[call-arg]
        _env_file=None,
        openai_api_key=SecretStr(openai_emu.DEFAULT_API_KEY),
        openai_base_url=emulator.base_url + "/v1",
    )
    server = await start_server(providers=providers, job_deadline_seconds=20)
    key = await server.create_key(mode="live")
    http = server.client(key)  # in process: the SDK talks to the app through the same transport
    sdk = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, http_client=http)
    return server, sdk


def _size(b64: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


async def test_streamed_generation_relays_the_providers_partial_images(
    start_server: Any, openai_emulator: Any
) -> None:
    _server, sdk = await _sdk(start_server, openai_emulator)
    async with sdk:
        stream = await sdk.images.generate(
            model="gpt-image-1", prompt="a lighthouse at dusk", stream=True, partial_images=2
        )
        events = [event async for event in stream]
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    first, second, completed = events
    assert [first.partial_image_index, second.partial_image_index] == [0, 1]  # type: ignore[union-attr]
    # The emulator's partials are coarser renderings: a quarter, then half the final size.
    assert _size(first.b64_json) == (256, 256) and _size(second.b64_json) == (512, 512)
    assert _size(completed.b64_json) == (1024, 1024) and completed.size == "1024x1024"
    (call,) = openai_emulator.state.calls("/images/generations", "POST")
    sent = json.loads(call.body)
    assert sent["stream"] is True and sent["partial_images"] == 2


async def test_streamed_edit_relays_partial_images_and_unstreamed_calls_ask_for_none(
    start_server: Any, openai_emulator: Any
) -> None:
    _server, sdk = await _sdk(start_server, openai_emulator)
    async with sdk:
        stream = await sdk.images.edit(
            model="gpt-image-1",
            prompt="add a red door",
            image=("in.png", png(1024, 1024, (40, 80, 120)), "image/png"),
            stream=True,
            partial_images=1,
        )
        events = [event async for event in stream]
        plain = await sdk.images.generate(model="gpt-image-1", prompt="no stream")
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert _size(events[0].b64_json) == (512, 512) and _size(events[1].b64_json) == (1024, 1024)
    assert plain.data and plain.data[0].b64_json
    generations = openai_emulator.state.calls("/images/generations", "POST")
    assert [json.loads(c.body).get("stream") for c in generations] == [None]  # nothing streamed
