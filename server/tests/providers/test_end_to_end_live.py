"""Generation through the whole orchestrator with *live* keys, against the provider emulators.

The server (real app, real HTTP, SQLite) is configured with the emulators' base URLs and keys,
exactly as an operator would point it at the real providers.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from PIL import Image
from pydantic import SecretStr

from orchestrator.emulators import openai as openai_emu
from orchestrator.emulators import replicate as replicate_emu
from orchestrator.emulators import stability as stability_emu
from orchestrator.emulators._common import RunningEmulator
from orchestrator.settings import ProviderCredentials

StartServer = Callable[..., Awaitable[Any]]


async def live_api(
    start_server: StartServer,
    openai: RunningEmulator[Any],
    stability: RunningEmulator[Any],
    replicate: RunningEmulator[Any],
) -> tuple[Any, httpx.AsyncClient]:
    credentials = ProviderCredentials(
        _env_file=None,
        openai_api_key=SecretStr(openai_emu.DEFAULT_API_KEY),
        openai_base_url=f"{openai.base_url}/v1",
        stability_api_key=SecretStr(stability_emu.DEFAULT_API_KEY),
        stability_base_url=stability.base_url,
        replicate_api_token=SecretStr(replicate_emu.DEFAULT_API_KEY),
        replicate_base_url=replicate.base_url,
    )
    server = await start_server(providers=credentials, job_deadline_seconds=20)
    key = await server.create_key(mode="live")
    return server, server.client(key)


async def test_live_generation_through_each_provider(
    start_server: StartServer,
    openai_emulator: RunningEmulator[openai_emu.OpenAIState],
    stability_emulator: RunningEmulator[stability_emu.StabilityState],
    replicate_emulator: RunningEmulator[replicate_emu.ReplicateState],
) -> None:
    _, api = await live_api(start_server, openai_emulator, stability_emulator, replicate_emulator)
    async with api:
        cases: list[tuple[dict[str, Any], str, tuple[int, int]]] = [
            ({"model": "gpt-image-1", "size": "1536x1024", "quality": "high"}, "openai", (1536, 1024)),
            ({"model": "stable-image-ultra", "size": "1344x768", "style": "anime"}, "stability", (1344, 768)),
            ({"model": "flux-schnell", "size": "1216x832", "seed": 5}, "replicate", (1216, 832)),
        ]
        for request, provider, size in cases:
            response = await api.post("/api/v1/generate", json={"prompt": "a lighthouse", **request})
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["status"] == "succeeded" and body["livemode"] is True, body
            assert body["provider"] == provider
            image = await api.get(body["image_url"])
            assert image.status_code == 200
            assert Image.open(io.BytesIO(image.content)).size == size

    sent = openai_emulator.state.calls("/images/generations")[0].json()
    assert sent["model"] == "gpt-image-1" and sent["quality"] == "high" and sent["size"] == "1536x1024"
    assert b'name="style_preset"\r\n\r\nanime' in stability_emulator.state.calls("/v2beta/")[0].body


async def test_live_refusal_is_reported_and_not_retried(
    start_server: StartServer,
    openai_emulator: RunningEmulator[openai_emu.OpenAIState],
    stability_emulator: RunningEmulator[stability_emu.StabilityState],
    replicate_emulator: RunningEmulator[replicate_emu.ReplicateState],
) -> None:
    openai_emulator.state.faults.update(refuse=1)
    _, api = await live_api(start_server, openai_emulator, stability_emulator, replicate_emulator)
    async with api:
        response = await api.post("/api/v1/generate", json={"prompt": "x", "model": "gpt-image-1"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert error["message"].startswith("OpenAI refused the request") and error["generation_id"]
    assert openai_emulator.state.count("/images/generations") == 1


async def test_live_rate_limit_is_retried_transparently(
    start_server: StartServer,
    openai_emulator: RunningEmulator[openai_emu.OpenAIState],
    stability_emulator: RunningEmulator[stability_emu.StabilityState],
    replicate_emulator: RunningEmulator[replicate_emu.ReplicateState],
) -> None:
    openai_emulator.state.faults.update(rate_limit=1, retry_after=0.2)
    _, api = await live_api(start_server, openai_emulator, stability_emulator, replicate_emulator)
    async with api:
        response = await api.post("/api/v1/generate", json={"prompt": "x", "model": "gpt-image-1"})
    assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text
    first, second = openai_emulator.state.calls("/images/generations")
    assert second.at - first.at >= 0.2  # waited for Retry-After
