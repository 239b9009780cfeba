"""OpenAI adapter against the OpenAI emulator over real loopback HTTP."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator
from provider_emulators.openai import DEFAULT_API_KEY, OpenAIState
from pydantic import SecretStr

from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.openai import OpenAIProvider, from_settings, wire_size
from orchestrator.settings import ProviderCredentials

Emulator = RunningEmulator[OpenAIState]


def provider(emulator: Emulator, client: httpx.AsyncClient, key: str = DEFAULT_API_KEY) -> OpenAIProvider:
    return OpenAIProvider(client, credential=SecretStr(key), base_url=f"{emulator.base_url}/v1")


def req(model: str = "gpt-image-1", width: int = 1024, height: int = 1024, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    return ProviderRequest(
        prompt="a lighthouse at dusk", provider_model=model, width=width, height=height, **kwargs
    )


async def no_progress(_: float) -> None:
    pass


async def fails(emulator: Emulator, client: httpx.AsyncClient, request: ProviderRequest | None = None,
                key: str = DEFAULT_API_KEY) -> ProviderError:  # fmt: skip
    with pytest.raises(ProviderError) as info:
        await provider(emulator, client, key).generate(request or req(), no_progress)
    return info.value


async def test_gpt_image_success(openai_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    seen: list[float] = []

    async def on_progress(fraction: float) -> None:
        seen.append(fraction)

    request = req("gpt-image-1", 1536, 1024, n=2, params={"quality": "high"})
    result = await provider(openai_emulator, http_client).generate(request, on_progress)

    assert len(result.images) == 2
    for image in result.images:
        assert (image.content_type, image.width, image.height) == ("image/png", 1536, 1024)
        assert Image.open(io.BytesIO(image.data)).size == (1536, 1024)
    assert result.provider_job_id is not None and result.provider_job_id.startswith("req_")
    assert result.usage is not None and result.usage["output_tokens"] == 4160 * 2
    assert seen == [1.0]

    (sent,) = openai_emulator.state.calls("/v1/images/generations")
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert sent.json() == {
        "model": "gpt-image-1",
        "prompt": "a lighthouse at dusk",
        "n": 2,
        "size": "1536x1024",
        "quality": "high",
    }  # GPT image models never get response_format


async def test_dalle3_asks_for_b64_and_records_revised_prompt(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("dall-e-3", 1024, 1792, params={"style": "vivid", "quality": "hd"})
    result = await provider(openai_emulator, http_client).generate(request, no_progress)
    assert (result.images[0].width, result.images[0].height) == (1024, 1792)
    assert result.revised_prompt == "a lighthouse at dusk, rendered in rich detail"
    body = openai_emulator.state.calls("/images/generations")[0].json()
    assert body["response_format"] == "b64_json" and body["style"] == "vivid" and body["size"] == "1024x1792"
    assert openai_emulator.state.count("/_files/") == 0  # no second round trip


async def test_url_response_format_is_downloaded(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("dall-e-2", 512, 512, n=2, params={"response_format": "url"})
    result = await provider(openai_emulator, http_client).generate(request, no_progress)
    assert [(i.width, i.height) for i in result.images] == [(512, 512), (512, 512)]
    files = openai_emulator.state.calls("/_files/")
    assert len(files) == 2
    assert "authorization" not in files[0].headers  # the key never goes to a result host


async def test_expired_result_url_is_retryable(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(expire_urls=True)
    error = await fails(openai_emulator, http_client, req("dall-e-2", params={"response_format": "url"}))
    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "result_url_expired" and error.status_code == 403


def test_wire_size_maps_to_the_nearest_supported_size() -> None:
    assert wire_size("gpt-image-1", 1024, 1024) == "1024x1024"
    assert wire_size("gpt-image-1", 1792, 1024) == "1536x1024"
    assert wire_size("gpt-image-1", 768, 1344) == "1024x1536"
    assert wire_size("dall-e-3", 1536, 1024) == "1792x1024"
    assert wire_size("dall-e-2", 300, 300) == "256x256"
    assert wire_size("dall-e-2", 1000, 1000) == "1024x1024"
    assert wire_size("gpt-image-2", 1010, 562) == "1008x560"


async def test_wrong_key_is_auth_error_naming_the_setting_without_the_secret(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    bad_key = "sk-live-wrong-key-0123456789abcdef"
    error = await fails(openai_emulator, http_client, key=bad_key)
    assert error.kind is ProviderErrorKind.AUTH and error.status_code == 401
    assert error.message.startswith("OpenAI rejected ORCHESTRATOR_OPENAI_API_KEY: Incorrect API key provided")
    assert bad_key not in error.message and bad_key[:6] not in error.message  # not even the masked echo
    assert error.provider_code == "invalid_api_key"


async def test_insufficient_quota_is_auth_not_retryable(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(insufficient_quota=1)
    error = await fails(openai_emulator, http_client)
    assert error.kind is ProviderErrorKind.AUTH and error.status_code == 429
    assert "ORCHESTRATOR_OPENAI_API_KEY" in error.message and "quota" in error.message


@pytest.mark.parametrize(
    ("model", "code"), [("gpt-image-1", "moderation_blocked"), ("dall-e-3", "content_policy_violation")]
)
async def test_refusal_is_content_policy(
    openai_emulator: Emulator, http_client: httpx.AsyncClient, model: str, code: str
) -> None:
    openai_emulator.state.faults.update(refuse=1)
    error = await fails(openai_emulator, http_client, req(model))
    assert error.kind is ProviderErrorKind.CONTENT_POLICY and error.provider_code == code
    assert error.message.startswith("OpenAI refused the request: Your request was rejected")


async def test_invalid_parameter_is_invalid_request_with_providers_message(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(openai_emulator, http_client, req(params={"quality": "ultra"}))
    assert error.kind is ProviderErrorKind.INVALID_REQUEST and error.status_code == 400
    assert error.provider_code == "invalid_value"
    assert "Invalid value: 'ultra'. Supported values are: 'auto', 'low', 'medium', 'high'." in error.message
    assert "(param: quality)" in error.message


async def test_unknown_model_is_invalid_request(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(openai_emulator, http_client, req("dall-e-4"))
    assert error.kind is ProviderErrorKind.INVALID_REQUEST and error.status_code == 404
    assert error.provider_code == "model_not_found"


async def test_rate_limit_is_retryable_with_retry_after(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(rate_limit=1, retry_after=2.5)
    error = await fails(openai_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.status_code == 429
    assert error.retry_after == 2.5 and error.provider_code == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(
    openai_emulator: Emulator, http_client: httpx.AsyncClient, status: int
) -> None:
    openai_emulator.state.faults.update(server_errors=1, server_error_status=status)
    error = await fails(openai_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.status_code == status


async def test_malformed_json_on_success_is_retryable(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(malformed=1)
    error = await fails(openai_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.provider_code == "malformed_response"
    assert "malformed JSON" in error.message


async def test_hung_provider_ends_at_the_deadline_with_timeout(
    openai_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    openai_emulator.state.faults.update(hang=True)
    started = time.monotonic()
    error = await fails(openai_emulator, http_client, req(deadline=started + 0.3))
    elapsed = time.monotonic() - started
    assert error.kind is ProviderErrorKind.TIMEOUT and error.provider_code == "provider_timeout"
    assert 0.25 <= elapsed < 1.5


async def test_unreachable_provider_is_retryable(http_client: httpx.AsyncClient) -> None:
    dead = OpenAIProvider(http_client, credential=SecretStr("k"), base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ProviderError) as info:
        await dead.generate(req(), no_progress)
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.provider_code == "connection_error"


async def test_from_settings(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None
    credentials = ProviderCredentials(
        _env_file=None, openai_api_key=SecretStr("sk-secret-value"), openai_base_url="http://x/v1/"
    )
    built = from_settings(credentials, http_client)
    assert isinstance(built, OpenAIProvider) and built.name == "openai"
    assert "sk-secret-value" not in repr(built)
