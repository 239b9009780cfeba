"""Replicate adapter against the Replicate emulator over real loopback HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from provider_emulators._common import RunningEmulator
from provider_emulators.replicate import DEFAULT_API_KEY, ReplicateState
from pydantic import SecretStr

from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.replicate import ReplicateProvider, from_settings
from orchestrator.settings import ProviderCredentials

Emulator = RunningEmulator[ReplicateState]
SCHNELL = "black-forest-labs/flux-schnell"


def provider(emulator: Emulator, client: httpx.AsyncClient, key: str = DEFAULT_API_KEY) -> ReplicateProvider:
    return ReplicateProvider(
        client,
        credential=SecretStr(key),
        base_url=emulator.base_url,
        poll_interval=0.02,
        max_poll_interval=0.05,
    )


def req(model: str = SCHNELL, width: int = 1024, height: int = 1024, **kwargs: Any) -> ProviderRequest:
    # A deadline under 2 s means no Prefer: wait, so these tests exercise polling.
    kwargs.setdefault("deadline", time.monotonic() + 1.9)
    return ProviderRequest(
        prompt="an astronaut cat", provider_model=model, width=width, height=height, **kwargs
    )


async def no_progress(_: float) -> None:
    pass


async def fails(emulator: Emulator, client: httpx.AsyncClient, request: ProviderRequest | None = None,
                key: str = DEFAULT_API_KEY) -> ProviderError:  # fmt: skip
    with pytest.raises(ProviderError) as info:
        await provider(emulator, client, key).generate(request or req(), no_progress)
    return info.value


async def test_polled_prediction_success(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.start_seconds, replicate_emulator.state.run_seconds = 0.05, 0.2
    progress: list[float] = []

    async def on_progress(fraction: float) -> None:
        progress.append(fraction)

    request = req(SCHNELL, 1216, 832, n=2, seed=1234, params={"output_format": "png"})
    result = await provider(replicate_emulator, http_client).generate(request, on_progress)

    assert [(i.content_type, i.width, i.height) for i in result.images] == [("image/png", 1216, 832)] * 2
    (create,) = replicate_emulator.state.calls("/predictions", method="POST")
    assert create.path == f"/v1/models/{SCHNELL}/predictions"
    assert create.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert "prefer" not in create.headers  # less than 2 s left: no server-side wait
    assert create.json() == {
        "input": {
            "prompt": "an astronaut cat",
            "aspect_ratio": "3:2",
            "num_outputs": 2,
            "seed": 1234,
            "output_format": "png",
        }
    }
    assert result.provider_job_id == create_id(replicate_emulator)
    assert replicate_emulator.state.count(f"/v1/predictions/{result.provider_job_id}", method="GET") >= 2
    assert result.seed == 1234
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 2
    assert result.usage is not None and "predict_time" in result.usage["metrics"]


def create_id(emulator: Emulator) -> str:
    (prediction_id,) = emulator.state.predictions
    return prediction_id


async def test_prefer_wait_answers_in_one_round_trip(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    result = await provider(replicate_emulator, http_client).generate(
        req(deadline=time.monotonic() + 20), no_progress
    )
    assert len(result.images) == 1
    (create,) = replicate_emulator.state.calls("/predictions", method="POST")
    assert create.headers["prefer"] in {"wait=18", "wait=19"}  # bounded by what is left of our deadline
    assert replicate_emulator.state.count("/v1/predictions/", method="GET") == 0


async def test_prefer_wait_is_capped_at_60(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    await provider(replicate_emulator, http_client).generate(
        req(deadline=time.monotonic() + 600), no_progress
    )
    assert replicate_emulator.state.calls("/predictions", method="POST")[0].headers["prefer"] == "wait=60"


async def test_single_output_model_and_version_route(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    model = "black-forest-labs/flux-pro:" + "a" * 64
    result = await provider(replicate_emulator, http_client).generate(req(model, 1344, 768), no_progress)
    assert [(i.content_type, i.width, i.height) for i in result.images] == [("image/webp", 1344, 768)]
    (create,) = replicate_emulator.state.calls("/predictions", method="POST")
    assert create.path == "/v1/predictions"
    body = create.json()
    assert body["version"] == model and "num_outputs" not in body["input"]  # flux-pro has no such input


async def test_input_validation_is_invalid_request(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(replicate_emulator, http_client, req(params={"num_inference_steps": 10}))
    assert error.kind is ProviderErrorKind.INVALID_REQUEST and error.status_code == 422
    assert "input.num_inference_steps: Must be less than or equal to 4" in error.message


async def test_wrong_token_is_auth_error_naming_the_setting(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(replicate_emulator, http_client, key="r8_wrong_token_value")
    assert error.kind is ProviderErrorKind.AUTH and error.status_code == 401
    assert error.message == (
        "Replicate rejected ORCHESTRATOR_REPLICATE_API_TOKEN: Unauthenticated: "
        "You did not pass a valid authentication token"
    )


async def test_nsfw_failed_prediction_is_content_policy(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.faults.update(refuse=1)
    error = await fails(replicate_emulator, http_client)
    assert error.kind is ProviderErrorKind.CONTENT_POLICY and error.provider_code == "nsfw"
    assert "NSFW" in error.message


async def test_rate_limited_create_is_retryable(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.faults.update(rate_limit=1, retry_after=3)
    error = await fails(replicate_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.retry_after == 3.0 and error.status_code == 429


async def test_server_errors_while_polling_do_not_fail_the_prediction(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.start_seconds, replicate_emulator.state.run_seconds = 0.0, 0.3

    async def on_progress(fraction: float) -> None:
        if fraction < 1.0:  # first successful poll: make the next two polls fail
            replicate_emulator.state.faults.update(server_errors=2)

    result = await provider(replicate_emulator, http_client).generate(req(), on_progress)
    assert len(result.images) == 1
    assert replicate_emulator.state.count("/predictions", method="POST") == 1  # never re-created
    assert replicate_emulator.state.faults.server_errors == 0  # both failures were served


async def test_polls_through_the_configured_base_not_the_advertised_url(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    # Reached through a proxy, Replicate still answers urls.get on api.replicate.com: the token must
    # only ever go to the configured base (here the advertised host is a dead port).
    replicate_emulator.state.advertised_base = "http://127.0.0.1:9"
    result = await provider(replicate_emulator, http_client).generate(req(), no_progress)
    assert len(result.images) == 1
    assert replicate_emulator.state.count(f"/v1/predictions/{result.provider_job_id}", method="GET") >= 1


async def test_expired_output_url_is_retryable(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.faults.update(expire_urls=True)
    error = await fails(replicate_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.provider_code == "result_url_expired"


async def test_malformed_create_response_is_retryable(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.faults.update(malformed=1)
    error = await fails(replicate_emulator, http_client)
    assert error.kind is ProviderErrorKind.RETRYABLE and error.provider_code == "malformed_response"


async def test_deadline_cancels_the_prediction_upstream(
    replicate_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.run_seconds = 30.0
    started = time.monotonic()
    error = await fails(replicate_emulator, http_client, req(deadline=started + 0.4))
    assert error.kind is ProviderErrorKind.TIMEOUT and error.provider_code == "provider_timeout"
    assert time.monotonic() - started < 1.5
    prediction_id = create_id(replicate_emulator)
    assert replicate_emulator.state.count(f"/v1/predictions/{prediction_id}/cancel", method="POST") == 1
    assert replicate_emulator.state.predictions[prediction_id].canceled_at is not None


async def test_from_settings(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None
    credentials = ProviderCredentials(_env_file=None, replicate_api_token=SecretStr("r8_x"))
    built = from_settings(credentials, http_client)
    assert isinstance(built, ReplicateProvider) and "r8_x" not in repr(built)
