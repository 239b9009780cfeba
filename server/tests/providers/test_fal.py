"""fal.ai queue adapter against the fal emulator over real loopback HTTP."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator
from provider_emulators.fal import DEFAULT_API_KEY, FalState
from pydantic import SecretStr

from orchestrator.providers import fal
from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.fal import FalProvider, build_input, from_settings, split_model
from orchestrator.settings import ProviderCredentials

Emulator = RunningEmulator[FalState]
MODEL = "fal-ai/flux/schnell"


def provider(emulator: Emulator, client: httpx.AsyncClient, key: str = DEFAULT_API_KEY) -> FalProvider:
    return FalProvider(
        client,
        credential=SecretStr(key),
        base_url=emulator.base_url,
        poll_interval=0.02,
        max_poll_interval=0.05,
    )


def req(width: int = 1024, height: int = 768, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("provider_model", MODEL)
    return ProviderRequest(prompt="a red fox in snow", width=width, height=height, **kwargs)


async def no_progress(_: float) -> None:
    pass


async def fails(emulator: Emulator, client: httpx.AsyncClient, request: ProviderRequest | None = None,
                key: str = DEFAULT_API_KEY) -> ProviderError:  # fmt: skip
    with pytest.raises(ProviderError) as info:
        await provider(emulator, client, key).generate(request or req(), no_progress)
    return info.value


async def test_success_queue_flow(fal_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    seen: list[float] = []

    async def on_progress(fraction: float) -> None:
        seen.append(fraction)

    result = await provider(fal_emulator, http_client).generate(req(n=2, seed=7), on_progress)

    assert len(result.images) == 2
    for image in result.images:
        assert (image.content_type, image.width, image.height) == ("image/jpeg", 1024, 768)
        assert Image.open(io.BytesIO(image.data)).size == (1024, 768)
    assert result.images[0].data != result.images[1].data
    assert result.provider_job_id in fal_emulator.state.jobs
    assert result.seed == 7

    submit = fal_emulator.state.calls(method="POST")
    assert [c.path for c in submit] == ["/fal-ai/flux/schnell"]
    assert submit[0].headers["authorization"] == f"Key {DEFAULT_API_KEY}"
    body = submit[0].json()
    assert body == {
        "prompt": "a red fox in snow",
        "image_size": {"width": 1024, "height": 768},
        "num_images": 2,
        "seed": 7,
    }
    # Status and result URLs are built from owner/alias only: no subpath.
    request_id = result.provider_job_id
    assert fal_emulator.state.count(f"/fal-ai/flux/requests/{request_id}/status", "GET") >= 2
    assert fal_emulator.state.count(f"/fal-ai/flux/requests/{request_id}", "GET") >= 3
    assert fal_emulator.state.count("/schnell/requests") == 0
    # Coarse, increasing progress: queued, running, completed.
    assert seen == [fal.PROGRESS_QUEUED, fal.PROGRESS_RUNNING, fal.PROGRESS_DONE]


async def test_route_params_override_defaults(fal_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    request = req(
        1024,
        1024,
        provider_model="fal-ai/flux/dev",
        params={"output_format": "png", "num_inference_steps": 4},
    )
    result = await provider(fal_emulator, http_client).generate(request, no_progress)

    assert (result.images[0].content_type, result.images[0].width) == ("image/png", 1024)
    body = fal_emulator.state.calls("/fal-ai/flux/dev", "POST")[0].json()
    assert body["output_format"] == "png" and body["num_inference_steps"] == 4
    assert "seed" not in body
    assert isinstance(result.seed, int)  # fal reports the seed it picked


async def test_auth_failure_names_setting_not_secret(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(fal_emulator, http_client, key="wrong-id:wrong-secret")

    assert error.kind is ProviderErrorKind.AUTH
    assert error.status_code == 401
    assert "ORCHESTRATOR_FAL_KEY" in error.message
    assert "wrong-secret" not in error.message and DEFAULT_API_KEY not in error.message
    assert fal_emulator.state.count() == 1


async def test_nsfw_output_is_content_policy_and_not_retried(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.faults.update(refuse=1)

    error = await fails(fal_emulator, http_client, req(n=2))

    assert error.kind is ProviderErrorKind.CONTENT_POLICY
    assert error.provider_code == "nsfw_content"
    assert not error.retryable
    assert fal_emulator.state.count(method="POST") == 1
    assert fal_emulator.state.count("/_files/") == 0  # black frames are never downloaded


async def test_input_checker_refusal_is_content_policy(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.refusal = "input"
    fal_emulator.state.faults.update(refuse=1)

    error = await fails(fal_emulator, http_client)

    assert error.kind is ProviderErrorKind.CONTENT_POLICY
    assert error.status_code == 422
    assert error.provider_code == "content_policy_violation"
    assert "flagged by a content checker" in error.message
    assert fal_emulator.state.count(method="POST") == 1


async def test_model_validation_error_is_invalid_request(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(fal_emulator, http_client, req(n=9))

    assert error.kind is ProviderErrorKind.INVALID_REQUEST
    assert error.status_code == 422
    assert "num_images" in error.message


@pytest.mark.parametrize("status", [429, 503])
async def test_rate_limit_and_server_errors_are_retryable(
    fal_emulator: Emulator, http_client: httpx.AsyncClient, status: int
) -> None:
    if status == 429:
        fal_emulator.state.faults.update(rate_limit=1, retry_after=3)
    else:
        fal_emulator.state.faults.update(server_errors=1, server_error_status=503)

    error = await fails(fal_emulator, http_client)

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.status_code == status
    assert error.retry_after == (3.0 if status == 429 else None)
    assert fal_emulator.state.count() == 1  # the adapter itself never retries a submit


async def test_transient_status_errors_do_not_abandon_a_queued_job(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    armed = False

    async def on_progress(fraction: float) -> None:
        nonlocal armed
        if not armed:  # the job is queued: now break the next two status polls
            armed = True
            fal_emulator.state.faults.update(server_errors=1, rate_limit=1, retry_after=0.05)

    result = await provider(fal_emulator, http_client).generate(req(), on_progress)

    assert len(result.images) == 1
    assert fal_emulator.state.count(method="POST") == 1


async def test_too_many_status_errors_give_up(fal_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    async def on_progress(fraction: float) -> None:
        fal_emulator.state.faults.update(server_errors=-1)

    with pytest.raises(ProviderError) as info:
        await provider(fal_emulator, http_client).generate(req(), on_progress)

    assert info.value.kind is ProviderErrorKind.RETRYABLE
    assert fal_emulator.state.count("/status") == 6  # max_poll_errors (5) + the one that gives up


async def test_a_queued_request_the_provider_lost_is_retryable_not_invalid(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    async def on_progress(fraction: float) -> None:
        fal_emulator.state.jobs.clear()  # submitted, then forgotten upstream: status answers 404

    with pytest.raises(ProviderError) as info:
        await provider(fal_emulator, http_client).generate(req(), on_progress)

    # Another route (or a new request) may well succeed: this must not read as our bad input.
    assert info.value.kind is ProviderErrorKind.RETRYABLE and info.value.status_code == 404
    assert fal_emulator.state.count("/status") == 6  # ridden out like any transient poll error


async def test_hung_provider_times_out_by_deadline(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.faults.update(hang=True)
    started = time.monotonic()

    error = await fails(fal_emulator, http_client, req(deadline=time.monotonic() + 0.5))

    assert error.kind is ProviderErrorKind.TIMEOUT
    assert 0.4 < time.monotonic() - started < 2.0
    fal_emulator.state.faults.update(hang=False)


async def test_slow_job_times_out_and_is_cancelled(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.run_seconds = 60
    started = time.monotonic()

    error = await fails(fal_emulator, http_client, req(deadline=time.monotonic() + 0.6))

    assert error.kind is ProviderErrorKind.TIMEOUT
    assert time.monotonic() - started < 2.0
    cancels = fal_emulator.state.calls("/cancel", "PUT")
    assert len(cancels) == 1
    request_id = cancels[0].path.split("/")[-2]
    assert cancels[0].path == f"/fal-ai/flux/requests/{request_id}/cancel"
    assert fal_emulator.state.jobs[request_id].cancelled


async def test_expired_result_url_is_retryable(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.faults.update(expire_urls=True)

    error = await fails(fal_emulator, http_client)

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "result_url_expired"


async def test_malformed_submit_response_is_retryable(
    fal_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    fal_emulator.state.faults.update(malformed=1)

    error = await fails(fal_emulator, http_client)

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "malformed_response"


def test_model_path_split() -> None:
    assert split_model("fal-ai/flux/schnell") == ("fal-ai/flux", "fal-ai/flux/schnell")
    assert split_model("fal-ai/flux-pro") == ("fal-ai/flux-pro", "fal-ai/flux-pro")
    assert split_model("fal-ai/flux-pro/v1.1-ultra") == ("fal-ai/flux-pro", "fal-ai/flux-pro/v1.1-ultra")
    with pytest.raises(ProviderError) as info:
        split_model("flux")
    assert info.value.kind is ProviderErrorKind.INVALID_REQUEST


def test_route_params_never_replace_the_prompt() -> None:
    body = build_input(req(params={"prompt": "nope", "guidance_scale": 2}, negative_prompt="blur"))
    assert body["prompt"] == "a red fox in snow"
    assert body["guidance_scale"] == 2 and body["negative_prompt"] == "blur"


async def test_from_settings(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None
    credentials = ProviderCredentials(_env_file=None, fal_key=SecretStr("k:s"), fal_base_url="http://x/")
    adapter = from_settings(credentials, http_client)
    assert isinstance(adapter, FalProvider) and adapter.name == "fal"
