"""Midjourney-proxy adapter against the midjourney-proxy emulator over real loopback HTTP."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from provider_emulators._common import RunningEmulator
from provider_emulators.midjourney import DEFAULT_API_KEY, MidjourneyState
from pydantic import SecretStr

from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.midjourney import (
    MidjourneyProvider,
    aspect_ratio,
    build_prompt,
    from_settings,
    parse_progress,
)
from orchestrator.settings import ProviderCredentials

Emulator = RunningEmulator[MidjourneyState]


def provider(emulator: Emulator, client: httpx.AsyncClient, secret: str | None = DEFAULT_API_KEY,
             base: str | None = None) -> MidjourneyProvider:  # fmt: skip
    return MidjourneyProvider(
        client,
        credential=SecretStr(secret) if secret is not None else None,
        base_url=base or emulator.base_url,
        poll_interval=0.02,
        max_poll_interval=0.05,
    )


def req(width: int = 1024, height: int = 1024, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    kwargs.setdefault("prompt", "a paper boat on a pond")
    return ProviderRequest(provider_model="imagine", width=width, height=height, **kwargs)


async def no_progress(_: float) -> None:
    pass


async def fails(emulator: Emulator, client: httpx.AsyncClient, request: ProviderRequest | None = None,
                secret: str | None = DEFAULT_API_KEY) -> ProviderError:  # fmt: skip
    with pytest.raises(ProviderError) as info:
        await provider(emulator, client, secret).generate(request or req(), no_progress)
    return info.value


async def test_imagine_returns_the_grid_and_reports_progress(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    seen: list[float] = []

    async def on_progress(fraction: float) -> None:
        seen.append(fraction)

    request = req(1456, 816, seed=42, negative_prompt="people", params={"v": 7, "raw": True})
    result = await provider(midjourney_emulator, http_client).generate(request, on_progress)

    (image,) = result.images
    # --ar 16:9 → tiles of 1456x816, the 2x2 grid is twice that per side.
    assert (image.content_type, image.width, image.height) == ("image/png", 2912, 1632)
    assert Image.open(io.BytesIO(image.data)).size == (2912, 1632)
    assert result.provider_job_id in midjourney_emulator.state.tasks
    assert result.seed == 42

    submit = midjourney_emulator.state.calls("/mj/submit/imagine", "POST")
    assert len(submit) == 1
    assert submit[0].headers["mj-api-secret"] == DEFAULT_API_KEY
    assert submit[0].json() == {
        "prompt": "a paper boat on a pond --no people --ar 16:9 --seed 42 --v 7 --raw"
    }
    assert midjourney_emulator.state.count(f"/mj/task/{result.provider_job_id}/fetch", "GET") >= 3
    # Real percentages from the proxy, increasing, never 1.0 before the download.
    assert seen == sorted(seen) and len(set(seen)) >= 2 and all(0 <= f < 1 for f in seen)
    assert any(0 < f < 1 for f in seen)


async def test_base_url_with_or_without_mj(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    adapter = provider(midjourney_emulator, http_client, base=f"{midjourney_emulator.base_url}/mj/")

    result = await adapter.generate(req(), no_progress)

    assert (result.images[0].width, result.images[0].height) == (2048, 2048)
    assert midjourney_emulator.state.count("/mj/mj/") == 0


async def test_no_secret_configured(midjourney_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    midjourney_emulator.state.api_key = None  # the proxy runs without mj.api-secret

    result = await provider(midjourney_emulator, http_client, secret=None).generate(req(), no_progress)

    assert len(result.images) == 1
    assert "mj-api-secret" not in midjourney_emulator.state.calls()[0].headers


@pytest.mark.parametrize("secret", ["not-the-secret", None])
async def test_auth_failure_names_setting_not_secret(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient, secret: str | None
) -> None:
    error = await fails(midjourney_emulator, http_client, secret=secret)

    assert error.kind is ProviderErrorKind.AUTH
    assert error.status_code == 401
    assert "ORCHESTRATOR_MIDJOURNEY_API_SECRET" in error.message
    assert "not-the-secret" not in error.message
    assert midjourney_emulator.state.count() == 1


async def test_banned_prompt_is_content_policy_and_not_retried(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(midjourney_emulator, http_client, req(prompt="a bannedword scene"))

    assert error.kind is ProviderErrorKind.CONTENT_POLICY
    assert error.provider_code == "banned_prompt"
    assert "bannedword" in error.message
    assert midjourney_emulator.state.count() == 1


async def test_refusal_fault_is_content_policy(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    midjourney_emulator.state.faults.update(refuse=1)

    error = await fails(midjourney_emulator, http_client)

    assert error.kind is ProviderErrorKind.CONTENT_POLICY
    assert midjourney_emulator.state.count() == 1


async def test_queue_full_is_retryable(midjourney_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    midjourney_emulator.state.queue_full = 1

    error = await fails(midjourney_emulator, http_client)

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "queue_full"
    assert error.status_code is None  # the proxy said so with HTTP 200


async def test_queued_submit_still_succeeds(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    midjourney_emulator.state.queued = 1

    result = await provider(midjourney_emulator, http_client).generate(req(), no_progress)

    assert len(result.images) == 1


async def test_empty_prompt_is_invalid_request(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(midjourney_emulator, http_client, req(prompt="   "))

    assert error.kind is ProviderErrorKind.INVALID_REQUEST
    assert midjourney_emulator.state.count() == 0


async def test_emulator_validation_code(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    response = await http_client.post(
        f"{midjourney_emulator.base_url}/mj/submit/imagine",
        json={"prompt": ""},
        headers={"mj-api-secret": DEFAULT_API_KEY},
    )

    assert response.status_code == 200
    assert response.json()["code"] == 4 and response.json()["description"] == "prompt不能为空"


async def test_task_failure_invalid_parameter(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    error = await fails(midjourney_emulator, http_client, req(params={"ar": "wide"}))

    assert error.kind is ProviderErrorKind.INVALID_REQUEST
    assert "[Invalid parameter]" in error.message


@pytest.mark.parametrize("status", [429, 500])
async def test_rate_limit_and_server_errors_are_retryable(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient, status: int
) -> None:
    if status == 429:
        midjourney_emulator.state.faults.update(rate_limit=1, retry_after=4)
    else:
        midjourney_emulator.state.faults.update(server_errors=1)

    error = await fails(midjourney_emulator, http_client)

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.status_code == status
    assert error.retry_after == (4.0 if status == 429 else None)
    assert midjourney_emulator.state.count() == 1


async def test_transient_fetch_errors_are_ridden_out(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    armed = False

    async def on_progress(_: float) -> None:
        nonlocal armed
        if not armed:
            armed = True
            midjourney_emulator.state.faults.update(
                server_errors=1, rate_limit=1, retry_after=0.05, malformed=1
            )

    result = await provider(midjourney_emulator, http_client).generate(req(), on_progress)

    assert len(result.images) == 1
    assert midjourney_emulator.state.count("/mj/submit/imagine") == 1


async def test_lost_task_gives_up_as_retryable(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    async def on_progress(_: float) -> None:
        midjourney_emulator.state.tasks.clear()  # the proxy restarted and forgot its tasks

    with pytest.raises(ProviderError) as info:
        await provider(midjourney_emulator, http_client).generate(req(), on_progress)

    assert info.value.kind is ProviderErrorKind.RETRYABLE
    assert info.value.provider_code == "task_not_found"


async def test_hung_proxy_times_out_by_deadline(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    midjourney_emulator.state.faults.update(hang=True)
    started = time.monotonic()

    error = await fails(midjourney_emulator, http_client, req(deadline=time.monotonic() + 0.5))

    assert error.kind is ProviderErrorKind.TIMEOUT
    assert 0.4 < time.monotonic() - started < 2.0


async def test_slow_task_times_out_by_deadline(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    midjourney_emulator.state.progress_seconds = 60

    error = await fails(midjourney_emulator, http_client, req(deadline=time.monotonic() + 0.5))

    assert error.kind is ProviderErrorKind.TIMEOUT


async def test_expired_image_url_is_retryable(
    midjourney_emulator: Emulator, http_client: httpx.AsyncClient
) -> None:
    midjourney_emulator.state.faults.update(expire_urls=True)

    error = await fails(midjourney_emulator, http_client)

    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.provider_code == "result_url_expired"


async def test_n_above_one_is_rejected(midjourney_emulator: Emulator, http_client: httpx.AsyncClient) -> None:
    error = await fails(midjourney_emulator, http_client, req(n=2))

    assert error.kind is ProviderErrorKind.INVALID_REQUEST
    assert midjourney_emulator.state.count() == 0


def test_prompt_building() -> None:
    assert aspect_ratio(1024, 1024) == "1:1"
    assert aspect_ratio(1456, 816) == "16:9"  # 91:51 reduced is too fine: nearest common ratio
    assert aspect_ratio(1232, 928) == "4:3"
    assert aspect_ratio(1344, 896) == "3:2"
    assert aspect_ratio(640, 1536) == "5:12"
    assert build_prompt(req(prompt="  a  cat ", seed=2**33)) == f"a cat --ar 1:1 --seed {2**33 % 2**32}"
    overridden = req(seed=1, negative_prompt="x", params={"ar": "3:2", "--seed": 9, "no": "y", "tile": False})
    assert build_prompt(overridden) == "a paper boat on a pond --ar 3:2 --seed 9 --no y"
    assert parse_progress("45%") == 0.45 and parse_progress("") is None and parse_progress(None) is None


async def test_from_settings(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None
    credentials = ProviderCredentials(_env_file=None, midjourney_base_url="http://mj:8080")
    adapter = from_settings(credentials, http_client)
    assert isinstance(adapter, MidjourneyProvider) and adapter.name == "midjourney"
