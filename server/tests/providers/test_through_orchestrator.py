"""Live keys through the whole orchestrator against each provider's loopback emulator.

For every provider: a generation succeeds, its image and thumbnail are stored and served by us,
it is priced from the route that served it, and it shows up in history and live-mode usage. Then
the fault classes, end to end: retry, 429 honoured, refusal neither retried nor fallen back,
fallback when the first route is down, a hung provider ended by the deadline, a bad credential.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from PIL import Image
from provider_emulators import fal as fal_emu
from provider_emulators import freepik as freepik_emu
from provider_emulators import midjourney as midjourney_emu
from provider_emulators import openai as openai_emu
from provider_emulators import replicate as replicate_emu
from provider_emulators import stability as stability_emu
from pydantic import SecretStr

from orchestrator.settings import ProviderCredentials

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

RANGE = {
    "start_date": str(date.today() - timedelta(days=1)),
    "end_date": str(date.today() + timedelta(days=1)),
}


def credentials(**emulators: Any) -> ProviderCredentials:
    """Provider settings pointing at the given running emulators, with their default keys."""
    values: dict[str, Any] = {}
    if "openai" in emulators:
        values |= {
            "openai_api_key": SecretStr(openai_emu.DEFAULT_API_KEY),
            "openai_base_url": emulators["openai"].base_url + "/v1",
        }
    if "stability" in emulators:
        values |= {
            "stability_api_key": SecretStr(stability_emu.DEFAULT_API_KEY),
            "stability_base_url": emulators["stability"].base_url,
        }
    if "replicate" in emulators:
        values |= {
            "replicate_api_token": SecretStr(replicate_emu.DEFAULT_API_KEY),
            "replicate_base_url": emulators["replicate"].base_url,
        }
    if "fal" in emulators:
        values |= {"fal_key": SecretStr(fal_emu.DEFAULT_API_KEY), "fal_base_url": emulators["fal"].base_url}
    if "freepik" in emulators:
        values |= {
            "freepik_api_key": SecretStr(freepik_emu.DEFAULT_API_KEY),
            "freepik_base_url": emulators["freepik"].base_url,
        }
    if "midjourney" in emulators:
        values |= {
            "midjourney_base_url": emulators["midjourney"].base_url,
            "midjourney_api_secret": SecretStr(midjourney_emu.DEFAULT_API_KEY),
        }
    return ProviderCredentials(_env_file=None, **values)  # type: ignore[call-arg]


async def live_server(start_server, **emulators: Any):
    server = await start_server(
        providers=credentials(**emulators), job_deadline_seconds=20, breaker_cooldown_seconds=0.5
    )
    return server, await server.create_key(mode="live")


CASES = [
    ("openai", "dall-e-3", {"size": "1792x1024", "quality": "hd"}, 0.12),
    ("openai", "gpt-image-1", {"quality": "low"}, 0.011),
    ("stability", "stable-diffusion", {"negative_prompt": "blurry", "seed": 5, "style": "anime"}, 0.065),
    ("replicate", "flux-schnell", {"seed": 3, "size": "1344x768"}, 0.003),
    ("fal", "flux-pro", {"size": "1216x832"}, 0.055),
    ("freepik", "freepik-classic", {"seed": 11}, 0.004),
    ("freepik", "freepik-mystic", {"quality": "standard"}, 0.10),
    ("midjourney", "midjourney", {"size": "1456x816"}, 0.05),
]


@pytest.mark.parametrize(("provider", "model", "extra", "cost"), CASES, ids=[c[1] for c in CASES])
async def test_live_generation_is_stored_priced_and_recorded(
    request, start_server, provider, model, extra, cost
) -> None:
    emulator = request.getfixturevalue(f"{provider}_emulator")
    server, key = await live_server(start_server, **{provider: emulator})
    async with server.client(key) as api:
        response = await api.post(
            "/api/v1/generate",
            json={
                "prompt": "a lighthouse on a cliff",
                "model": model,
                "metadata": {"suite": provider},
                **extra,
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["livemode"] is True and body["provider"] == provider and body["cost"] == cost
        assert emulator.state.count() >= 1  # the provider was really called
        async with server.client() as anonymous:  # no key: the URL's signature is the credential
            image = await anonymous.get(body["image_url"])
            thumb = await anonymous.get(body["thumbnail_url"])
        assert image.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        with Image.open(io.BytesIO(image.content)) as stored:
            assert (stored.width, stored.height) == (body["images"][0]["width"], body["images"][0]["height"])
        history = (await api.get("/api/v1/generations", params={"metadata.suite": provider})).json()["data"]
        assert [g["id"] for g in history] == [body["id"]]
        usage = (await api.get("/api/v1/usage", params=RANGE)).json()
        assert usage["livemode"] is True and usage["total_generations"] == 1 and usage["total_cost"] == cost


async def test_dall_e_request_reaches_openai_in_its_own_vocabulary(start_server, openai_emulator) -> None:
    server, key = await live_server(start_server, openai=openai_emulator)
    async with server.client(key) as api:
        response = await api.post(
            "/api/v1/generate",
            json={
                "prompt": "a red kite",
                "model": "dall-e-3",
                "style": "natural",
                "quality": "hd",
                "size": "1024x1792",
            },
        )
    assert response.status_code == 200, response.text
    sent = openai_emulator.state.calls("/images/generations")[-1].json()
    assert sent["model"] == "dall-e-3" and sent["style"] == "natural" and sent["quality"] == "hd"
    assert sent["size"] == "1024x1792" and sent["prompt"] == "a red kite"
    # A style with no native parameter travels as a prompt template instead.
    async with server.client(key) as api:
        await api.post(
            "/api/v1/generate", json={"prompt": "a red kite", "model": "dall-e-3", "style": "watercolor"}
        )
    sent = openai_emulator.state.calls("/images/generations")[-1].json()
    assert "Watercolour" in sent["prompt"] and sent["prompt"].startswith("a red kite")


async def test_429_is_honoured_then_succeeds(start_server, openai_emulator) -> None:
    openai_emulator.state.faults.update(rate_limit=1, retry_after=0.3)
    server, key = await live_server(start_server, openai=openai_emulator)
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "retry me", "model": "dall-e-3"})
    assert response.status_code == 200
    calls = openai_emulator.state.calls("/images/generations")
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 0.3


async def test_refusal_is_final_not_retried_not_fallen_back(
    start_server, replicate_emulator, fal_emulator
) -> None:
    replicate_emulator.state.faults.update(refuse=1)
    server, key = await live_server(start_server, replicate=replicate_emulator, fal=fal_emulator)
    async with server.client(key) as api:
        response = await api.post(
            "/api/v1/generate", json={"prompt": "something forbidden", "model": "flux-schnell"}
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "content_policy_violation" and error["generation_id"]
        job = (await api.get(f"/api/v1/generations/{error['generation_id']}")).json()
        assert job["status"] == "failed" and job["cost"] == 0
        assert [a["provider"] for a in job["failed_attempts"]] == ["replicate"]
    assert replicate_emulator.state.count("/predictions", method="POST") == 1
    assert fal_emulator.state.count() == 0


@pytest.mark.parametrize("model", ["gpt-image-1", "dall-e-3"])  # b64_json, and a URL we download
async def test_an_image_cut_short_on_its_way_fails_the_job_uncharged(
    start_server, openai_emulator, model
) -> None:
    openai_emulator.state.faults.update(truncate_images=1)
    server, key = await live_server(start_server, openai=openai_emulator)
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "cut short", "model": model})
        assert response.status_code == 502, response.text
        error = response.json()["error"]
        assert error["code"] == "provider_error" and "unusable result" in error["message"]
        job = (await api.get(f"/api/v1/generations/{error['generation_id']}")).json()
        assert job["status"] == "failed" and job["cost"] == 0 and job["images"] == []
        usage = (await api.get("/api/v1/usage", params=RANGE)).json()
        assert usage["total_cost"] == 0
        again = await api.post("/api/v1/generate", json={"prompt": "whole", "model": model})
        assert again.status_code == 200 and again.json()["status"] == "succeeded", again.text


async def test_fallback_to_second_route_when_first_is_down(
    start_server, replicate_emulator, fal_emulator
) -> None:
    replicate_emulator.state.faults.update(server_errors=-1, server_error_status=503)
    server, key = await live_server(start_server, replicate=replicate_emulator, fal=fal_emulator)
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "fall back", "model": "flux-schnell"})
        assert response.status_code == 200, response.text
        job = (await api.get(f"/api/v1/generations/{response.json()['id']}")).json()
    assert response.json()["provider"] == "fal" and response.json()["cost"] == 0.003
    # The attempt trail: the three failed calls to replicate, each with its reason.
    trail = job["failed_attempts"]
    assert [a["provider"] for a in trail] == ["replicate"] * 3 and all(
        a["code"] and a["message"] for a in trail
    )
    assert replicate_emulator.state.count("/predictions", method="POST") == 3  # retried, then fell back
    assert fal_emulator.state.count(method="POST") == 1


async def test_hung_provider_ends_with_provider_timeout(start_server, openai_emulator) -> None:
    openai_emulator.state.faults.update(hang=True)
    server = await start_server(providers=credentials(openai=openai_emulator), job_deadline_seconds=1.0)
    key = await server.create_key(mode="live")
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "never", "model": "dall-e-3"})
    openai_emulator.state.faults.update(hang=False)
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["type"] == "provider_timeout" and error["code"] == "provider_timeout"


async def test_bad_provider_credential_is_a_clear_502_without_the_secret(
    start_server, openai_emulator
) -> None:
    openai_emulator.state.api_key = "sk-the-real-one"
    server, key = await live_server(start_server, openai=openai_emulator)
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json={"prompt": "x", "model": "dall-e-3"})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "provider_auth_failed" and "ORCHESTRATOR_OPENAI_API_KEY" in error["message"]
    assert openai_emu.DEFAULT_API_KEY not in response.text
    assert openai_emulator.state.count("/images/generations") == 1  # auth failures are not retried
