"""Adapters with text to image only refuse every other operation instead of generating from the
prompt alone (Midjourney proxy, local diffusers). Requests carry a 10 s deadline."""

from __future__ import annotations

import time

import httpx
import pytest
from provider_emulators._common import RunningEmulator
from provider_emulators.midjourney import DEFAULT_API_KEY, MidjourneyState
from pydantic import SecretStr

from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.diffusers_local import DiffusersProvider
from orchestrator.providers.midjourney import MidjourneyProvider

OPERATIONS = [op for op in Operation if op is not Operation.GENERATE]
IMAGE = ProviderInput(b"\x89PNG", "image/png", 8, 8)


def req(model: str, operation: Operation) -> ProviderRequest:
    return ProviderRequest(
        prompt="a paper boat",
        provider_model=model,
        width=1024,
        height=1024,
        operation=operation,
        images=(IMAGE,),
        deadline=time.monotonic() + 10,
    )


async def no_progress(_: float) -> None:
    pass


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_midjourney_refuses_image_operations_without_submitting(
    midjourney_emulator: RunningEmulator[MidjourneyState],
    http_client: httpx.AsyncClient,
    operation: Operation,
) -> None:
    adapter = MidjourneyProvider(
        http_client, credential=SecretStr(DEFAULT_API_KEY), base_url=midjourney_emulator.base_url
    )
    with pytest.raises(ProviderError) as info:
        await adapter.generate(req("imagine", operation), no_progress)
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert info.value.provider_code == "unsupported_operation" and operation.value in info.value.message
    assert midjourney_emulator.state.count("/mj/") == 0


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_local_diffusers_refuses_image_operations_before_loading_anything(operation: Operation) -> None:
    adapter = DiffusersProvider("/nonexistent/model")
    try:
        with pytest.raises(ProviderError) as info:
            await adapter.generate(req("local", operation), no_progress)
    finally:
        await adapter.aclose()
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert info.value.provider_code == "unsupported_operation"
