"""Generation over real HTTP: the seed's cURL examples, images, async jobs, events, cancel, batch."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image
from support import eventually

SEED_GENERATE = {
    "prompt": "A beautiful sunset over mountains",
    "model": "dall-e-3",
    "style": "photorealistic",
    "size": "1024x1024",
}


async def test_seed_generate_example_returns_finished_generation(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/generate", json=SEED_GENERATE)
    assert response.status_code == 200, response.text
    body = response.json()
    for field in (
        "id",
        "image_url",
        "thumbnail_url",
        "prompt",
        "model",
        "style",
        "size",
        "quality",
        "metadata",
        "created_at",
        "processing_time",
        "cost",
    ):
        assert field in body
    assert body["status"] == "succeeded"
    assert body["prompt"] == SEED_GENERATE["prompt"] and body["model"] == "dall-e-3"
    assert body["style"] == "photorealistic" and body["size"] == "1024x1024" and body["quality"] == "standard"
    assert body["livemode"] is False and body["provider"] == "offline"
    assert body["cost"] == 0.04  # priced as the real model: dall-e-3 1024x1024 standard
    assert response.headers["x-request-id"].startswith("req_")


async def test_seed_list_models_and_history_examples(api: httpx.AsyncClient) -> None:
    models = (await api.get("/api/v1/models")).json()["data"]
    names = {m["name"] for m in models}
    assert {
        "dall-e-3",
        "gpt-image-1",
        "midjourney",
        "stable-diffusion",
        "flux-dev",
        "freepik-mystic",
    } <= names
    dalle = next(m for m in models if m["name"] == "dall-e-3")
    assert dalle["max_resolution"] == "1792x1024" and "photorealistic" in dalle["supported_styles"]
    assert dalle["pricing_per_image"] == 0.04 and dalle["available"] is True
    assert dalle["average_time"] is None  # no history yet

    await api.post("/api/v1/generate", json=SEED_GENERATE)
    history = (await api.get("/api/v1/generations", params={"limit": 10})).json()
    assert len(history["data"]) == 1 and history["has_more"] is False
    info = (await api.get("/api/v1/models/dall-e-3")).json()
    assert info["average_time"] is not None and info["average_time"] > 0


async def test_image_url_downloads_png_of_requested_size_and_thumbnail(api: httpx.AsyncClient) -> None:
    body = (await api.post("/api/v1/generate", json={**SEED_GENERATE, "size": "1792x1024"})).json()
    async with httpx.AsyncClient() as anonymous:  # no auth header: the signature is the credential
        image = await anonymous.get(body["image_url"])
        thumb = await anonymous.get(body["thumbnail_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(image.content)) as png:
        assert png.format == "PNG" and png.size == (1792, 1024)
    with Image.open(io.BytesIO(thumb.content)) as webp:
        assert webp.format == "WEBP" and max(webp.size) == 256 and webp.size == (256, 146)


async def test_a_thumbnail_is_made_when_first_asked_for_then_kept(server, api: httpx.AsyncClient) -> None:
    """The job stores only its image; the WebP is made on the first request and stored."""
    body = (await api.post("/api/v1/generate", json=SEED_GENERATE)).json()
    storage = server.app.state.services.storage
    image_key = body["image_url"].split("/api/v1/images/", 1)[1].split("?", 1)[0]
    thumb_key = body["thumbnail_url"].split("/api/v1/images/", 1)[1].split("?", 1)[0]
    assert thumb_key == image_key + ".thumb.webp"
    with pytest.raises(FileNotFoundError):
        await storage.get(thumb_key)
    async with httpx.AsyncClient() as anonymous:
        first = await anonymous.get(body["thumbnail_url"])
        assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
        assert await storage.get(thumb_key) == first.content  # stored for next time
        await storage.put(thumb_key, b"kept", "image/webp")  # the stored copy is what is served now
        assert (await anonymous.get(body["thumbnail_url"])).content == b"kept"
        # With its image gone, a missing thumbnail is a 404, not an error.
        await storage.delete(thumb_key)
        await storage.delete(image_key)
        assert (await anonymous.get(body["thumbnail_url"])).status_code == 404


async def test_same_input_gives_same_pixels(api: httpx.AsyncClient) -> None:
    request = {"prompt": "a red fox", "model": "flux-schnell", "seed": 7, "size": "1024x1024"}
    first = (await api.post("/api/v1/generate", json=request)).json()
    second = (await api.post("/api/v1/generate", json=request)).json()
    other = (await api.post("/api/v1/generate", json={**request, "seed": 8})).json()
    async with httpx.AsyncClient() as anonymous:
        files = [(await anonymous.get(x["image_url"])).content for x in (first, second, other)]
    # Compared as pixels: each file's provenance text chunks carry its own generation id.
    a, b, c = [Image.open(io.BytesIO(data)).tobytes() for data in files]
    assert first["id"] != second["id"] and a == b and a != c


async def test_tampered_or_expired_image_url_is_refused(api: httpx.AsyncClient, server) -> None:
    body = (await api.post("/api/v1/generate", json=SEED_GENERATE)).json()
    url = httpx.URL(body["image_url"])
    tampered = url.copy_set_param("sig", "A" * 27)
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(tampered)).status_code == 403
        expired_path = url.path
        signer = server.app.state.services.signer
        stale = signer.sign(expired_path, now=0)  # expired decades ago, correctly signed
        response = await anonymous.get(server.url + stale)
        assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_signature"


async def test_async_job_then_poll_and_events(start_server) -> None:
    server = await start_server(offline_latency_seconds=0.4)
    key = await server.create_key()
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json=SEED_GENERATE, headers={"Prefer": "respond-async"})
        assert response.status_code == 202
        job = response.json()
        # A free worker slot starts the job at once; otherwise it waits in the queue.
        assert job["status"] in ("queued", "running") and job["image_url"] is None
        assert response.headers["location"] == f"/api/v1/generations/{job['id']}"
        events: list[tuple[str, dict]] = []
        async with api.stream("GET", f"/api/v1/generations/{job['id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            name = None
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name:
                    events.append((name, json.loads(line.removeprefix("data: "))))
        names = [n for n, _ in events]
        assert names[-1] == "succeeded" and "running" in names
        progress = [d["progress"] for n, d in events if n == "running"]
        assert progress == sorted(progress) and any(0 < p < 1 for p in progress)
        final = (await api.get(f"/api/v1/generations/{job['id']}")).json()
        assert final["status"] == "succeeded" and final["image_url"]


async def test_cancel_running_job_is_not_charged(start_server) -> None:
    server = await start_server(offline_latency_seconds=30)
    key = await server.create_key()
    async with server.client(key) as api:
        job = (
            await api.post("/api/v1/generate", json=SEED_GENERATE, headers={"Prefer": "respond-async"})
        ).json()
        pool = server.app.state.services.pool
        await eventually(
            lambda: _json(api.get(f"/api/v1/generations/{job['id']}")),
            lambda state: state["status"] == "running" and job["id"] in pool.active,
            what="the job running in this worker",
        )
        canceled = await api.post(f"/api/v1/generations/{job['id']}/cancel")
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
        assert canceled.json()["cost"] == 0
        again = await api.post(f"/api/v1/generations/{job['id']}/cancel")
        assert again.status_code == 409 and again.json()["error"]["code"] == "generation_finished"
        # The worker task was stopped (it would otherwise render for 30 s) ...
        await eventually(lambda: _value(not pool.active), bool, within=10, what="the worker task to stop")
        # ... and, stopped, it wrote nothing over the canceled outcome.
        final = (await api.get(f"/api/v1/generations/{job['id']}")).json()
        assert final["status"] == "canceled" and final["cost"] == 0 and final["image_url"] is None


async def test_validation_errors_name_field_and_rule(api: httpx.AsyncClient) -> None:
    cases = [
        ({**SEED_GENERATE, "size": "800x600"}, 422, "size", "1024x1024, 1792x1024, 1024x1792"),
        ({**SEED_GENERATE, "style": "cubism"}, 422, "style", "vivid"),
        ({**SEED_GENERATE, "quality": "ultra"}, 422, "quality", "standard, hd"),
        ({**SEED_GENERATE, "n": 2}, 422, "n", "at most 1"),
        ({**SEED_GENERATE, "seed": 3}, 422, "seed", "does not support a seed"),
        ({**SEED_GENERATE, "colour": "red"}, 422, "colour", "unknown field"),
        ({"model": "dall-e-3"}, 422, "prompt", "field required"),
        ({**SEED_GENERATE, "prompt": "x" * 4001}, 422, "prompt", "limit is 4000"),
        ({**SEED_GENERATE, "model": "dall-e-9"}, 404, "model", "does not exist"),
    ]
    for payload, status, param, fragment in cases:
        response = await api.post("/api/v1/generate", json=payload)
        error = response.json()["error"]
        assert response.status_code == status, (payload, response.text)
        assert error["param"] == param and fragment in error["message"], error
        assert error["request_id"] == response.headers["x-request-id"]
    unknown = (await api.post("/api/v1/generate", json={**SEED_GENERATE, "model": "dall-e-9"})).json()[
        "error"
    ]
    assert unknown["type"] == "model_not_available"


async def test_body_size_cap(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/generate",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


async def test_live_key_without_provider_names_missing_credential(server) -> None:
    key = await server.create_key(mode="live")
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json=SEED_GENERATE)
        models = (await api.get("/api/v1/models")).json()["data"]
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "model_not_available" and "ORCHESTRATOR_OPENAI_API_KEY" in error["message"]
    dalle = next(m for m in models if m["name"] == "dall-e-3")
    assert dalle["available"] is False and "ORCHESTRATOR_OPENAI_API_KEY" in dalle["unavailable_reason"]


async def test_batch_results_in_order_and_one_failure_does_not_sink_others(server) -> None:
    from decimal import Decimal

    # Budget for exactly two dall-e-3 images: the third prompt must fail alone.
    key = await server.create_key(monthly_budget=Decimal("0.08"))
    async with server.client(key) as api:
        response = await api.post(
            "/api/v1/generate/batch",
            json={"prompts": ["Prompt 1", "Prompt 2", "Prompt 3"], "model": "dall-e-3", "batch_size": 1},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert [item["prompt"] for item in body["data"]] == ["Prompt 1", "Prompt 2", "Prompt 3"]
    assert [item["status"] for item in body["data"]] == ["succeeded", "succeeded", "failed"]
    assert body["data"][2]["error"]["code"] == "budget_exceeded"
    assert body["succeeded"] == 2 and body["failed"] == 1 and body["total_cost"] == 0.08
    assert all(item["generation"]["batch_id"] == body["id"] for item in body["data"][:2])


async def test_batch_limits(api: httpx.AsyncClient) -> None:
    too_many = await api.post("/api/v1/generate/batch", json={"prompts": ["p"] * 51, "model": "dall-e-3"})
    assert too_many.status_code == 422 and too_many.json()["error"]["param"] == "prompts"
    bad_shared = await api.post(
        "/api/v1/generate/batch", json={"prompts": ["a", "b"], "model": "dall-e-3", "size": "1x1"}
    )
    assert bad_shared.status_code == 422 and bad_shared.json()["error"]["param"] == "size"


async def test_prefer_wait_caps_the_synchronous_wait(start_server) -> None:
    server = await start_server(offline_latency_seconds=1.5)
    key = await server.create_key()
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json=SEED_GENERATE, headers={"Prefer": "wait=0"})
        assert response.status_code == 202 and response.json()["status"] in ("queued", "running")
        job_id = response.json()["id"]
        finished = await api.post("/api/v1/generate", json=SEED_GENERATE, headers={"Prefer": "wait=10"})
        assert finished.status_code == 200 and finished.json()["status"] == "succeeded"
        assert (await api.get(f"/api/v1/generations/{job_id}")).json()["status"] in ("running", "succeeded")


async def _json(response) -> dict:
    return (await response).json()


async def _value(value):
    return value
