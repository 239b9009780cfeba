"""The emulators speak each provider's wire format, and their knobs work over HTTP too."""

from __future__ import annotations

import ast
import asyncio
import io
import time
from pathlib import Path

import httpx
import provider_emulators
import pytest
from PIL import Image
from provider_emulators import openai as openai_emu
from provider_emulators import replicate as replicate_emu
from provider_emulators import stability as stability_emu
from provider_emulators.__main__ import available
from provider_emulators._common import Faults, RunningEmulator, make_image

OpenAIEmu = RunningEmulator[openai_emu.OpenAIState]
StabilityEmu = RunningEmulator[stability_emu.StabilityState]
ReplicateEmu = RunningEmulator[replicate_emu.ReplicateState]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --------------------------------------------------------------------------- control endpoints


async def test_faults_can_be_scripted_over_http(
    openai_emulator: OpenAIEmu, http_client: httpx.AsyncClient
) -> None:
    base = openai_emulator.base_url
    response = await http_client.post(f"{base}/_emulator/faults", json={"rate_limit": 1, "retry_after": 3})
    assert response.status_code == 200 and response.json()["rate_limit"] == 1
    assert openai_emulator.state.faults.retry_after == 3.0

    body = {"model": "gpt-image-1", "prompt": "x"}
    limited = await http_client.post(
        f"{base}/v1/images/generations", json=body, headers=bearer(openai_emu.DEFAULT_API_KEY)
    )
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    ok = await http_client.post(
        f"{base}/v1/images/generations", json=body, headers=bearer(openai_emu.DEFAULT_API_KEY)
    )
    assert ok.status_code == 200  # the counter was consumed

    bad = await http_client.post(f"{base}/_emulator/faults", json={"no_such_knob": 1})
    assert bad.status_code == 400 and "no_such_knob" in bad.json()["error"]

    log = (await http_client.get(f"{base}/_emulator/requests")).json()
    assert [entry["path"] for entry in log] == ["/v1/images/generations"] * 2  # control calls not recorded
    await http_client.post(f"{base}/_emulator/reset")
    assert openai_emulator.state.count() == 0


def test_fault_counters() -> None:
    faults = Faults(server_errors=2, rate_limit=-1)
    assert [faults.take("server_errors") for _ in range(3)] == [True, True, False]
    assert all(faults.take("rate_limit") for _ in range(5))  # -1: until cleared
    faults.reset()
    assert faults.as_dict() == Faults().as_dict()


def test_cli_lists_the_emulators() -> None:
    assert {"openai", "stability", "replicate"} <= set(available())


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
def test_images_are_real_deterministic_and_sized(fmt: str) -> None:
    data = make_image(320, 200, 7, fmt)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (320, 200) and image.format == fmt
    assert make_image(320, 200, 7, fmt) == data and make_image(320, 200, 8, fmt) != data


# --------------------------------------------------------------------------- OpenAI


async def test_openai_validation_and_auth_bodies(
    openai_emulator: OpenAIEmu, http_client: httpx.AsyncClient
) -> None:
    url = f"{openai_emulator.base_url}/v1/images/generations"
    key = bearer(openai_emu.DEFAULT_API_KEY)

    missing = await http_client.post(url, json={"prompt": "x"})
    assert (
        missing.status_code == 401 and "You didn't provide an API key" in missing.json()["error"]["message"]
    )

    wrong = await http_client.post(url, json={"prompt": "x"}, headers=bearer("sk-abcdefghijklmnop1234"))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "sk-abc************1234" in wrong.json()["error"]["message"]  # OpenAI-style masked echo

    bad_size = await http_client.post(
        url, json={"model": "gpt-image-1", "prompt": "x", "size": "1536x1152"}, headers=key
    )
    assert bad_size.status_code == 400
    assert bad_size.json() == {
        "error": {
            "message": "Invalid value: '1536x1152'. Supported values are: "
            "'1024x1024', '1536x1024', '1024x1536', 'auto'.",
            "type": "invalid_request_error",
            "param": "size",
            "code": "invalid_value",
        }
    }
    gpt_format = await http_client.post(
        url, json={"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, headers=key
    )
    assert gpt_format.status_code == 400 and gpt_format.json()["error"]["param"] == "response_format"
    dalle3_n = await http_client.post(url, json={"model": "dall-e-3", "prompt": "x", "n": 2}, headers=key)
    assert dalle3_n.status_code == 400 and dalle3_n.json()["error"]["param"] == "n"
    unknown = await http_client.post(f"{openai_emulator.base_url}/v1/images/nope", json={}, headers=key)
    assert (
        unknown.status_code == 404
        and unknown.json()["error"]["message"] == "Invalid URL (POST /v1/images/nope)"
    )


async def test_openai_quality_auto_is_every_models_default_and_the_rest_is_per_model(
    openai_emulator: OpenAIEmu, http_client: httpx.AsyncClient
) -> None:
    # The API reference: `auto` (default) for every model; low/medium/high GPT image only;
    # hd/standard dall-e-3; standard dall-e-2.
    url = f"{openai_emulator.base_url}/v1/images/generations"
    key = bearer(openai_emu.DEFAULT_API_KEY)
    for model, quality in (
        ("dall-e-3", "auto"),
        ("dall-e-3", "hd"),
        ("dall-e-2", "auto"),
        ("gpt-image-1", "low"),
    ):
        body = {"model": model, "prompt": "x", "quality": quality, "size": "1024x1024"}
        assert (await http_client.post(url, json=body, headers=key)).status_code == 200, (model, quality)
    refused = await http_client.post(
        url, json={"model": "dall-e-2", "prompt": "x", "quality": "hd"}, headers=key
    )
    assert refused.status_code == 400
    assert (
        refused.json()["error"]["message"] == "Invalid value: 'hd'. Supported values are: 'auto', 'standard'."
    )


async def test_openai_success_headers_and_shape(
    openai_emulator: OpenAIEmu, http_client: httpx.AsyncClient
) -> None:
    response = await http_client.post(
        f"{openai_emulator.base_url}/v1/images/generations",
        json={"model": "dall-e-2", "prompt": "x", "size": "256x256"},
        headers=bearer(openai_emu.DEFAULT_API_KEY),
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    assert int(response.headers["openai-processing-ms"]) >= 0
    assert response.headers["x-ratelimit-remaining-requests"] == "49"
    body = response.json()
    assert isinstance(body["created"], int) and "usage" not in body
    image = await http_client.get(body["data"][0]["url"])  # DALL·E default: a URL served by the emulator
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (256, 256)


# --------------------------------------------------------------------------- Stability


async def test_stability_validates_before_auth(
    stability_emulator: StabilityEmu, http_client: httpx.AsyncClient
) -> None:
    url = f"{stability_emulator.base_url}/v2beta/stable-image/generate/core"
    files = {"none": ("", b"")}
    bad_both = await http_client.post(
        url, data={"aspect_ratio": "7:3"}, files=files, headers={**bearer("wrong"), "accept": "image/*"}
    )
    assert bad_both.status_code == 400
    body = bad_both.json()
    assert set(body) == {"id", "name", "errors"} and body["name"] == "bad_request" and len(body["id"]) == 32
    assert "prompt: is required" in body["errors"] and any(
        e.startswith("aspect_ratio:") for e in body["errors"]
    )

    bad_key = await http_client.post(url, data={"prompt": "x"}, files=files, headers=bearer("wrong"))
    assert bad_key.status_code == 401 and bad_key.json()["name"] == "unauthorized"

    as_json = await http_client.post(
        url,
        data={"prompt": "x", "seed": "9"},
        files=files,
        headers={**bearer(stability_emu.DEFAULT_API_KEY), "accept": "application/json"},
    )
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith(
        "application/json; type=image/png"
    )
    assert "finish-reason" not in as_json.headers
    assert as_json.json()["finish_reason"] == "SUCCESS" and as_json.json()["seed"] == 9


# --------------------------------------------------------------------------- Replicate


async def test_replicate_prediction_lifecycle_and_cancel(
    replicate_emulator: ReplicateEmu, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.start_seconds, replicate_emulator.state.run_seconds = 0.1, 0.2
    base, key = replicate_emulator.base_url, bearer(replicate_emu.DEFAULT_API_KEY)
    created = await http_client.post(
        f"{base}/v1/models/black-forest-labs/flux-schnell/predictions",
        json={"input": {"prompt": "x"}},
        headers=key,
    )
    assert created.status_code == 201
    prediction = created.json()
    assert (
        prediction["status"] == "starting"
        and prediction["output"] is None
        and prediction["version"] == "hidden"
    )
    assert prediction["urls"]["get"] == f"{base}/v1/predictions/{prediction['id']}"
    statuses = [prediction["status"]]
    deadline = time.monotonic() + 30
    while statuses[-1] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"the prediction never ended: {statuses[-5:]}"
        await asyncio.sleep(0.03)
        statuses.append((await http_client.get(prediction["urls"]["get"], headers=key)).json()["status"])
    assert list(dict.fromkeys(statuses)) == ["starting", "processing", "succeeded"]
    done = (await http_client.get(prediction["urls"]["get"], headers=key)).json()
    assert len(done["output"]) == 1 and done["completed_at"] and done["metrics"]["predict_time"] > 0

    replicate_emulator.state.run_seconds = 30
    other = (
        await http_client.post(
            f"{base}/v1/models/black-forest-labs/flux-schnell/predictions",
            json={"input": {"prompt": "y"}},
            headers=key,
        )
    ).json()
    canceled = await http_client.post(other["urls"]["cancel"], headers=key)
    assert canceled.json()["status"] == "canceled"


async def test_replicate_error_bodies(
    replicate_emulator: ReplicateEmu, http_client: httpx.AsyncClient
) -> None:
    url = f"{replicate_emulator.base_url}/v1/models/black-forest-labs/flux-schnell/predictions"
    unauthenticated = await http_client.post(url, json={"input": {"prompt": "x"}})
    assert unauthenticated.json() == {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    }
    invalid = await http_client.post(
        url,
        json={"input": {"prompt": "x", "num_inference_steps": 9, "colour": "red"}},
        headers=bearer(replicate_emu.DEFAULT_API_KEY),
    )
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["title"] == "Input validation failed"
    assert {
        "type": "number_lte",
        "field": "input.num_inference_steps",
        "description": "Must be less than or equal to 4",
    } in body["invalid_fields"]
    assert any(f["type"] == "additional_property_not_allowed" for f in body["invalid_fields"])
    assert body["detail"].startswith("- ")


async def test_replicate_prefer_wait_holds_until_done(
    replicate_emulator: ReplicateEmu, http_client: httpx.AsyncClient
) -> None:
    replicate_emulator.state.start_seconds, replicate_emulator.state.run_seconds = 0.05, 0.1
    response = await http_client.post(
        f"{replicate_emulator.base_url}/v1/models/black-forest-labs/flux-schnell/predictions",
        json={"input": {"prompt": "x", "output_format": "png"}},
        headers={**bearer(replicate_emu.DEFAULT_API_KEY), "Prefer": "wait=5"},
    )
    assert response.status_code == 201 and response.json()["status"] == "succeeded"
    image = await http_client.get(response.json()["output"][0])
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)


def test_the_emulators_never_import_the_orchestrator() -> None:
    # Written from the providers' API references: an emulator that borrowed an adapter's table
    # would share its misreadings, and no test could catch them.
    package = Path(provider_emulators.__file__).parent
    imported: set[str] = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert imported and not {name for name in imported if name.split(".")[0] == "orchestrator"}
