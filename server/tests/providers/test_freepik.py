"""Freepik adapter (classic fast, Mystic, flux-dev) against the Freepik emulator over loopback HTTP."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator
from provider_emulators.freepik import DEFAULT_API_KEY, FreepikState
from pydantic import SecretStr

from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.freepik import FreepikProvider, fold_seed, from_settings, nearest_aspect
from orchestrator.settings import ProviderCredentials

Emulator = RunningEmulator[FreepikState]


def provider(
    emulator: Emulator,
    client: httpx.AsyncClient,
    key: str = DEFAULT_API_KEY,
    header: str = "x-freepik-api-key",
) -> FreepikProvider:
    return FreepikProvider(
        client,
        credential=SecretStr(key),
        base_url=emulator.base_url,
        auth_header=header,
        poll_interval=0.02,
        max_poll_interval=0.05,
    )


def req(model: str = "classic", width: int = 1024, height: int = 1024, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    return ProviderRequest(
        prompt="a quiet harbour", provider_model=model, width=width, height=height, **kwargs
    )


async def no_progress(_: float) -> None:
    pass


async def fails(emulator: Emulator, client: httpx.AsyncClient, request: ProviderRequest | None = None,
                key: str = DEFAULT_API_KEY) -> ProviderError:  # fmt: skip
    with pytest.raises(ProviderError) as info:
        await provider(emulator, client, key).generate(request or req(), no_progress)
    return info.value


def size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


async def test_classic_is_synchronous(freepik_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    request = req(
        "classic", 1344, 768, n=2, seed=1234, negative_prompt="fog, blur", params={"guidance_scale": 1.5}
    )
    result = await provider(freepik_emulator, http_client).generate(request, no_progress)

    assert [(i.content_type, i.width, i.height) for i in result.images] == [("image/png", 1344, 768)] * 2
    assert size(result.images[0].data) == (1344, 768)
    assert result.seed == 1234
    calls = freepik_emulator.state.calls()
    assert [(c.method, c.path) for c in calls] == [("POST", "/v1/ai/text-to-image")]
    assert calls[0].headers["x-freepik-api-key"] == DEFAULT_API_KEY
    assert calls[0].json() == {
        "prompt": "a quiet harbour",
        "num_images": 2,
        "image": {"size": "widescreen_16_9"},
        "negative_prompt": "fog, blur",
        "seed": 1234,
        "guidance_scale": 1.5,
    }


async def test_mystic_polls_and_reports_progress(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    seen: list[float] = []

    async def on_progress(fraction: float) -> None:
        seen.append(fraction)

    request = req("mystic", 2048, 1536, params={"resolution": "1k", "model": "realism"})
    result = await provider(freepik_emulator, http_client).generate(request, on_progress)

    assert [(i.width, i.height) for i in result.images] == [(1024, 768)]  # 1k of classic_4_3
    task_id = result.provider_job_id
    assert task_id in freepik_emulator.state.tasks
    body = freepik_emulator.state.calls("/v1/ai/mystic", "POST")[0].json()
    assert body == {
        "prompt": "a quiet harbour",
        "aspect_ratio": "classic_4_3",
        "resolution": "1k",
        "model": "realism",
    }
    assert freepik_emulator.state.count(f"/v1/ai/mystic/{task_id}", "GET") >= 2
    assert seen == sorted(seen) and seen[0] == 0.05 and seen[-1] == 0.9 and 0.2 in seen


async def test_flux_dev_fans_out_one_task_per_image(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    request = req("flux-dev", 768, 1344, n=2, seed=10)
    result = await provider(freepik_emulator, http_client).generate(request, no_progress)

    assert [(i.width, i.height) for i in result.images] == [(768, 1344)] * 2
    bodies = [c.json() for c in freepik_emulator.state.calls("/v1/ai/text-to-image/flux-dev", "POST")]
    assert sorted(b["seed"] for b in bodies) == [10, 11]  # distinct seeds, distinct images
    assert all(b["aspect_ratio"] == "social_story_9_16" for b in bodies)
    assert result.provider_job_id is not None and len(result.provider_job_id.split(",")) == 2
    assert result.images[0].data != result.images[1].data


async def test_imagen3_makes_n_images_in_one_task_at_an_aspect_it_accepts(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    # 2:1 is in the full aspect enum but not in imagen3's five: the nearest one it accepts is sent.
    request = req("imagen3", 2048, 1024, n=3, seed=5)
    result = await provider(freepik_emulator, http_client).generate(request, no_progress)

    calls = freepik_emulator.state.calls("/v1/ai/text-to-image/imagen3", "POST")
    assert [c.json() for c in calls] == [
        {"prompt": "a quiet harbour", "aspect_ratio": "widescreen_16_9", "num_images": 3}
    ]  # imagen3 has no seed field: sending one would be refused
    assert [(i.width, i.height) for i in result.images] == [(1408, 768)] * 3
    assert len({i.data for i in result.images}) == 3
    task_id = result.provider_job_id
    assert task_id is not None and freepik_emulator.state.count(f"/imagen3/{task_id}", "GET") >= 1


async def test_unknown_text_to_image_model_is_an_invalid_request(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(freepik_emulator, http_client, req("no-such-model"))
    assert error.kind is ProviderErrorKind.INVALID_REQUEST and error.status_code == 404


async def test_custom_key_header(freepik_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    freepik_emulator.state.key_header = "x-magnific-api-key"
    adapter = provider(freepik_emulator, http_client, header="X-Magnific-API-Key")

    result = await adapter.generate(req(), no_progress)

    assert len(result.images) == 1
    assert "x-freepik-api-key" not in freepik_emulator.state.calls()[0].headers


@pytest.mark.parametrize("model", ["classic", "mystic"])
async def test_auth_failure_names_setting_not_secret(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient, model: str
) -> None:
    error = await fails(freepik_emulator, http_client, req(model), key="FPSX-not-my-key")

    assert error.kind is ProviderErrorKind.AUTH
    assert error.status_code == 401
    assert "ORCHESTRATOR_FREEPIK_API_KEY" in error.message and "Invalid API key" in error.message
    assert "FPSX-not-my-key" not in error.message


async def test_classic_nsfw_is_content_policy_and_not_retried(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.faults.update(refuse=1)

    error = await fails(freepik_emulator, http_client, req(n=2))

    assert error.kind is ProviderErrorKind.CONTENT_POLICY
    assert error.provider_code == "nsfw_content"
    assert freepik_emulator.state.count() == 1


async def test_async_task_filtered_empty_is_content_policy(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.faults.update(refuse=1)

    error = await fails(freepik_emulator, http_client, req("mystic", params={"resolution": "1k"}))

    assert error.kind is ProviderErrorKind.CONTENT_POLICY
    assert error.provider_code == "nsfw_filtered"
    assert freepik_emulator.state.count(method="POST") == 1
    assert freepik_emulator.state.count("/_files/") == 0


async def test_failed_task_is_retryable(freepik_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    freepik_emulator.state.fail_tasks = 1

    error = await fails(freepik_emulator, http_client, req("flux-dev"))

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "task_failed"


async def test_validation_error_is_invalid_request(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(freepik_emulator, http_client, req(params={"guidance_scale": 7}))

    assert error.kind is ProviderErrorKind.INVALID_REQUEST
    assert error.status_code == 400
    assert "guidance_scale" in error.message and "didn't validate" in error.message


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limit_and_server_errors_are_retryable(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient, status: int
) -> None:
    if status == 429:
        freepik_emulator.state.faults.update(rate_limit=1, retry_after=2.5)
    else:
        freepik_emulator.state.faults.update(server_errors=1, server_error_status=status)

    error = await fails(freepik_emulator, http_client, req("mystic"))

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.status_code == status
    assert error.retry_after == (2.5 if status == 429 else None)
    assert freepik_emulator.state.count() == 1


async def test_transient_poll_errors_are_ridden_out(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    armed = False

    async def on_progress(_: float) -> None:
        nonlocal armed
        if not armed:
            armed = True
            freepik_emulator.state.faults.update(server_errors=1, rate_limit=1, retry_after=0.05, malformed=1)

    result = await provider(freepik_emulator, http_client).generate(
        req("mystic", params={"resolution": "1k"}), on_progress
    )

    assert len(result.images) == 1
    assert freepik_emulator.state.count(method="POST") == 1


async def test_hung_provider_times_out_by_deadline(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.faults.update(hang=True)
    started = time.monotonic()

    error = await fails(freepik_emulator, http_client, req(deadline=time.monotonic() + 0.5))

    assert error.kind is ProviderErrorKind.TIMEOUT
    assert 0.4 < time.monotonic() - started < 2.0


async def test_slow_task_times_out_by_deadline(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.run_seconds = 60

    error = await fails(freepik_emulator, http_client, req("flux-dev", deadline=time.monotonic() + 0.5))

    assert error.kind is ProviderErrorKind.TIMEOUT
    assert freepik_emulator.state.count("/v1/ai/text-to-image/flux-dev/", "GET") >= 2


async def test_expired_result_url_is_retryable(
    freepik_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    freepik_emulator.state.faults.update(expire_urls=True)

    error = await fails(freepik_emulator, http_client, req("flux-dev"))

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "result_url_expired"


def test_aspect_and_seed_mapping() -> None:
    assert nearest_aspect(1024, 1024) == "square_1_1"
    assert nearest_aspect(1152, 864) == "classic_4_3"
    assert nearest_aspect(864, 1152) == "traditional_3_4"
    assert nearest_aspect(2752, 1536) == "widescreen_16_9"
    assert nearest_aspect(1536, 2752) == "social_story_9_16"
    assert nearest_aspect(2000, 900) == "smartphone_horizontal_20_9"
    assert nearest_aspect(2000, 900, ["square_1_1", "widescreen_16_9"]) == "widescreen_16_9"
    assert fold_seed(5, 0, 1_000_000) == 5
    assert fold_seed(2_000_001, 0, 1_000_000) == fold_seed(2_000_001, 0, 1_000_000) <= 1_000_000
    assert fold_seed(0, 1, 4_294_967_295) == 1


async def test_from_settings(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None
    credentials = ProviderCredentials(
        _env_file=None, freepik_api_key=SecretStr("k"), freepik_api_key_header="X-Magnific-API-Key"
    )
    adapter = from_settings(credentials, http_client)
    assert isinstance(adapter, FreepikProvider) and adapter.name == "freepik"
