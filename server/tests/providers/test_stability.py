"""Stability adapter against the Stability emulator over real loopback HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from provider_emulators._common import RunningEmulator, parse_multipart
from provider_emulators.stability import DEFAULT_API_KEY, StabilityState
from pydantic import SecretStr

from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.stability import StabilityProvider, endpoint_for, from_settings
from orchestrator.settings import ProviderCredentials

Emulator = RunningEmulator[StabilityState]


def provider(emulator: Emulator, client: httpx.AsyncClient, key: str = DEFAULT_API_KEY) -> StabilityProvider:
    return StabilityProvider(client, credential=SecretStr(key), base_url=emulator.base_url)


def req(model: str = "sd3.5-large", width: int = 1024, height: int = 1024, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    return ProviderRequest(
        prompt="a red fox in snow", provider_model=model, width=width, height=height, **kwargs
    )


async def no_progress(_: float) -> None:
    pass


async def fails(emulator: Emulator, client: httpx.AsyncClient, request: ProviderRequest | None = None,
                key: str = DEFAULT_API_KEY) -> ProviderError:  # fmt: skip
    with pytest.raises(ProviderError) as info:
        await provider(emulator, client, key).generate(request or req(), no_progress)
    return info.value


def form_of(emulator: Emulator, index: int = 0) -> dict[str, str | bytes]:
    sent = emulator.state.calls("/v2beta/")[index]
    form = parse_multipart(sent.body, sent.headers["content-type"])
    assert form is not None, "Stability requires multipart/form-data"
    return form


async def test_sd3_success_sends_model_aspect_seed_and_native_params(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req(
        "sd3.5-large", 1344, 768, seed=42, negative_prompt="blurry", params={"style_preset": "photographic"}
    )
    result = await provider(stability_emulator, http_client).generate(request, no_progress)

    (image,) = result.images
    assert (image.content_type, image.width, image.height) == ("image/png", 1344, 768)
    assert result.seed == 42 and result.provider_job_id
    (sent,) = stability_emulator.state.calls("/v2beta/")
    assert sent.path == "/v2beta/stable-image/generate/sd3"
    assert (
        sent.headers["accept"] == "image/*" and sent.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    )
    form = form_of(stability_emulator)
    assert {k: v for k, v in form.items() if k != "none"} == {
        "prompt": "a red fox in snow",
        "aspect_ratio": "16:9",
        "output_format": "png",
        "model": "sd3.5-large",
        "seed": "42",
        "negative_prompt": "blurry",
        "style_preset": "photographic",
    }


@pytest.mark.parametrize(("model", "size"), [("core", (1536, 1536)), ("ultra", (1024, 1024))])
async def test_core_and_ultra_are_their_own_endpoints(
    stability_emulator: Emulator, http_client: httpx.AsyncClient, model: str, size: tuple[int, int]
) -> None:
    result = await provider(stability_emulator, http_client).generate(req(model), no_progress)
    assert (result.images[0].width, result.images[0].height) == size  # core renders 1.5 MP
    assert stability_emulator.state.calls("/v2beta/")[0].path == f"/v2beta/stable-image/generate/{model}"
    assert "model" not in form_of(stability_emulator)


def test_endpoint_for() -> None:
    assert endpoint_for("core") == ("core", None)
    assert endpoint_for("sd3.5-large-turbo") == ("sd3", "sd3.5-large-turbo")


async def test_n_images_make_n_calls_with_consecutive_seeds(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    progress: list[float] = []

    async def on_progress(fraction: float) -> None:
        progress.append(fraction)

    result = await provider(stability_emulator, http_client).generate(req(n=2, seed=7), on_progress)
    assert len(result.images) == 2 and progress == [0.5, 1.0]
    assert [form_of(stability_emulator, i)["seed"] for i in (0, 1)] == ["7", "8"]
    assert result.images[0].data != result.images[1].data


async def test_invalid_parameter_is_invalid_request_with_stability_message(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(stability_emulator, http_client, req(params={"style_preset": "vaporwave"}))
    assert error.kind is ProviderErrorKind.INVALID_REQUEST and error.status_code == 400
    assert error.provider_code == "bad_request" and "style_preset: must be one of" in error.message


async def test_wrong_key_is_auth_error_naming_the_setting(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(stability_emulator, http_client, key="sk-not-the-right-one")
    assert error.kind is ProviderErrorKind.AUTH and error.status_code == 401
    assert error.message.startswith("Stability AI rejected ORCHESTRATOR_STABILITY_API_KEY:")
    assert "sk-not-the-right-one" not in error.message


async def test_content_moderation_403_is_content_policy(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(refuse=1)
    error = await fails(stability_emulator, http_client)
    assert error.kind is ProviderErrorKind.CONTENT_POLICY and error.provider_code == "content_moderation"
    assert "flagged by our content moderation system" in error.message


async def test_content_filtered_finish_reason_is_content_policy(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(content_filtered=1)
    error = await fails(stability_emulator, http_client)
    assert error.kind is ProviderErrorKind.CONTENT_POLICY and error.provider_code == "content_filtered"


async def test_rate_limit_is_retryable_with_retry_after(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(rate_limit=1, retry_after=4)
    error = await fails(stability_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.retry_after == 4.0
    assert error.provider_code == "rate_limit_exceeded"


async def test_server_error_is_retryable(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(server_errors=1)
    error = await fails(stability_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.provider_code == "internal_error"


async def test_corrupt_image_body_is_retryable(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(malformed=1)
    error = await fails(stability_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.provider_code == "malformed_response"


async def test_hung_provider_ends_at_the_deadline(
    stability_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    stability_emulator.state.faults.update(hang=True)
    started = time.monotonic()
    error = await fails(stability_emulator, http_client, req(deadline=started + 0.3))
    assert error.kind is ProviderErrorKind.TIMEOUT and time.monotonic() - started < 1.5


async def test_from_settings(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None
    credentials = ProviderCredentials(_env_file=None, stability_api_key=SecretStr("sk-x"))
    assert isinstance(from_settings(credentials, http_client), StabilityProvider)
