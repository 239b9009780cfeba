"""The OpenAI-compatible surface, driven by the real `openai` package."""

from __future__ import annotations

import base64
import io
from datetime import date

import httpx
import openai
import pytest
from PIL import Image


def client(server, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


async def test_openai_sdk_generates_urls_and_base64_and_lists_models(server, test_key) -> None:
    sdk = client(server, test_key)
    by_url = await sdk.images.generate(
        model="dall-e-3", prompt="a lighthouse in a storm", size="1792x1024", quality="hd", user="user-42"
    )
    assert by_url.created > 0 and len(by_url.data) == 1
    url = by_url.data[0].url
    assert url is not None and url.startswith(f"{server.url}/api/v1/images/")  # ours, signed, stored
    async with httpx.AsyncClient() as http:
        picture = await http.get(url)
    assert picture.status_code == 200
    assert Image.open(io.BytesIO(picture.content)).size == (1792, 1024)

    by_b64 = await sdk.images.generate(
        model="gpt-image-1", prompt="two paper cranes", n=2, response_format="b64_json"
    )
    assert len(by_b64.data) == 2
    for image in by_b64.data:
        assert image.b64_json is not None and image.url is None
        decoded = Image.open(io.BytesIO(base64.b64decode(image.b64_json)))
        assert decoded.format == "PNG" and decoded.size == (1024, 1024)

    listed = [model.id async for model in sdk.models.list()]
    assert {"dall-e-3", "gpt-image-1", "stable-diffusion", "midjourney"} <= set(listed)
    assert (await sdk.models.retrieve("dall-e-3")).id == "dall-e-3"
    await sdk.close()


async def test_openai_generations_land_in_history_and_usage(server, test_key, api) -> None:
    sdk = client(server, test_key)
    await sdk.images.generate(model="dall-e-3", prompt="history from the openai door", user="u-7")
    await sdk.close()
    history = (await api.get("/api/v1/generations", params={"q": "openai door"})).json()["data"]
    assert len(history) == 1
    assert history[0]["model"] == "dall-e-3" and history[0]["metadata"] == {"user": "u-7"}
    assert history[0]["cost"] == 0.04
    today = date.today().isoformat()
    usage = (await api.get("/api/v1/usage", params={"start_date": today, "end_date": today})).json()
    assert usage["total_generations"] == 1 and usage["total_cost"] == 0.04


async def test_openai_errors_keep_openai_shape_and_status(server, test_key) -> None:
    sdk = client(server, test_key)
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk.images.generate(model="no-such-model", prompt="x")
    assert missing.value.body["code"] == "model_not_available"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad_size:
        await sdk.images.generate(model="dall-e-3", prompt="x", size="300x300")
    assert bad_size.value.body["param"] == "size" and "1024x1024" in bad_size.value.message  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as streaming:
        await sdk.images.generate(model="dall-e-3", prompt="x", background="transparent")
    assert streaming.value.body["param"] == "background"  # type: ignore[index]
    await sdk.close()

    stranger = client(server, "sk-test-not-a-real-key")
    with pytest.raises(openai.AuthenticationError):
        await stranger.images.generate(model="dall-e-3", prompt="x")
    await stranger.close()
    # The REST surface keeps its own statuses: 422 there, 400 here.
    async with server.client(test_key) as api:
        rest = await api.post(
            "/api/v1/generate", json={"prompt": "x", "model": "dall-e-3", "size": "300x300"}
        )
    assert rest.status_code == 422


async def test_openai_door_shares_limits_and_idempotency(start_server) -> None:
    server = await start_server()
    key = await server.create_key(rate_limit_per_minute=1)
    sdk = client(server, key)
    await sdk.images.generate(model="dall-e-3", prompt="first")
    with pytest.raises(openai.RateLimitError) as limited:
        await sdk.images.generate(model="dall-e-3", prompt="second")
    assert int(limited.value.response.headers["retry-after"]) > 0
    await sdk.close()

    other = await server.create_key()
    async with server.client(other) as api:
        body = {"model": "dall-e-3", "prompt": "once only"}
        headers = {"Idempotency-Key": "openai-idem-1"}
        first = await api.post("/v1/images/generations", json=body, headers=headers)
        again = await api.post("/v1/images/generations", json=body, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert first.headers["x-generation-id"] == again.headers["x-generation-id"]
        assert len((await api.get("/api/v1/generations", params={"q": "once only"})).json()["data"]) == 1


# ---------------------------------------------------------------------------- image operations


async def test_openai_sdk_edits_with_a_mask_and_with_two_images_on_gpt_image_1(server, test_key, api) -> None:
    from image_inputs import mask_png, png

    from orchestrator.providers.offline import prompt_colour

    sdk = client(server, test_key)
    masked = await sdk.images.edit(
        model="dall-e-2",
        image=("in.png", png(256, 256, (20, 60, 200)), "image/png"),
        mask=("mask.png", mask_png(256, 256), "image/png"),
        prompt="a sun in the corner",
    )
    assert masked.data[0].url is not None  # dall-e-2: url by default, as OpenAI does
    async with httpx.AsyncClient() as http:
        picture = Image.open(io.BytesIO((await http.get(masked.data[0].url)).content)).convert("RGB")
    assert picture.getpixel((40, 80)) == prompt_colour("a sun in the corner|0")
    assert picture.getpixel((200, 200)) == (20, 60, 200)

    two = await sdk.images.edit(
        model="gpt-image-1",
        image=[
            ("a.png", png(128, 128, (200, 0, 0)), "image/png"),
            ("b.png", png(128, 128, (0, 200, 0)), "image/png"),
        ],
        prompt="put them together",
        output_format="webp",
        output_compression=80,
        background="opaque",
    )
    assert two.data[0].b64_json is not None and two.data[0].url is None  # gpt-image: b64_json
    decoded = Image.open(io.BytesIO(base64.b64decode(two.data[0].b64_json)))
    assert decoded.format == "WEBP" and decoded.size == (128, 128)
    await sdk.close()
    history = (await api.get("/api/v1/generations", params={"operation": "edit"})).json()["data"]
    assert [len(g["sources"]) for g in history] == [2, 2]  # two images; one image + its mask
    assert history[0]["operation_params"] == {
        "background": "opaque",
        "output_format": "webp",
        "output_compression": 80,
    }


async def test_openai_sdk_creates_variations(server, test_key) -> None:
    from image_inputs import png

    sdk = client(server, test_key)
    with pytest.warns(DeprecationWarning):  # the SDK marks create_variation deprecated; it still works
        result = await sdk.images.create_variation(
            image=("in.png", png(256, 256, (90, 90, 90)), "image/png"), n=2, response_format="b64_json"
        )
    assert len(result.data) == 2
    sizes = {Image.open(io.BytesIO(base64.b64decode(d.b64_json or ""))).size for d in result.data}
    assert sizes == {(256, 256)}
    await sdk.close()


async def test_openai_sdk_streams_generation_events(server, test_key) -> None:
    sdk = client(server, test_key)
    stream = await sdk.images.generate(
        model="gpt-image-1", prompt="a streamed lighthouse", stream=True, partial_images=2
    )
    events = [event async for event in stream]
    assert events and events[-1].type == "image_generation.completed"
    completed = events[-1]
    assert completed.size == "1024x1024" and completed.output_format == "png"
    assert Image.open(io.BytesIO(base64.b64decode(completed.b64_json))).size == (1024, 1024)
    await sdk.close()


async def test_openai_gpt_image_options_are_refused_on_models_without_them(server, test_key) -> None:
    sdk = client(server, test_key)
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.images.generate(model="dall-e-3", prompt="x", output_format="jpeg")
    assert refused.value.body["param"] == "output_format"  # type: ignore[index]
    jpeg = await sdk.images.generate(model="gpt-image-1", prompt="x", output_format="jpeg", moderation="low")
    assert jpeg.data[0].b64_json is not None  # gpt-image answers b64_json by default
    assert Image.open(io.BytesIO(base64.b64decode(jpeg.data[0].b64_json))).format == "JPEG"
    await sdk.close()


@pytest.mark.parametrize("case", ["bomb", "truncated", "gif", "huge"])
async def test_openai_edit_refuses_bad_inputs_with_nothing_stored_or_charged(
    server, test_key, api, case
) -> None:
    from image_inputs import gif, png_bomb, truncated_png

    data = {
        "bomb": png_bomb(),
        "truncated": truncated_png(),
        "gif": gif(),
        "huge": b"\x89PNG" + b"\0" * 60_000_000,
    }[case]
    async with server.client(test_key) as http:
        response = await http.post(
            "/v1/images/edits",
            data={"model": "gpt-image-1", "prompt": "x"},
            files={"image": ("in.png", data, "image/png")},
        )
    assert response.status_code == (413 if case == "huge" else 400), response.text
    if case != "huge":
        assert response.json()["error"]["param"] == "image"
    images_dir = server.settings.data_dir / "images"
    assert not images_dir.exists() or not any(p.is_file() for p in images_dir.rglob("*"))
    assert (await api.get("/api/v1/generations")).json()["data"] == []


async def test_openai_edit_honours_quality_in_the_price(server, test_key, api) -> None:
    from image_inputs import png

    sdk = client(server, test_key)
    await sdk.images.edit(
        model="gpt-image-1", image=("a.png", png(1024, 1024), "image/png"), prompt="x", quality="high"
    )
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.images.edit(
            model="gpt-image-1", image=("a.png", png(64, 64), "image/png"), prompt="x", quality="max"
        )
    assert refused.value.body["param"] == "quality"  # type: ignore[index]
    await sdk.close()
    history = (await api.get("/api/v1/generations", params={"operation": "edit"})).json()["data"]
    assert [(g["quality"], g["cost"]) for g in history] == [("high", 0.167)]


async def test_an_openai_sdk_retry_of_an_edit_joins_the_first_job(server, test_key, api) -> None:
    from image_inputs import png

    source = png(64, 64, (5, 6, 7))
    ids = []
    async with server.client(test_key) as http:
        for retry in ("0", "1"):
            response = await http.post(
                "/v1/images/edits",
                data={"model": "dall-e-2", "prompt": "same edit"},
                files={"image": ("a.png", source, "image/png")},
                headers={"x-stainless-retry-count": retry},
            )
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-generation-id"])
    assert ids[0] == ids[1]
    assert len((await api.get("/api/v1/generations", params={"operation": "edit"})).json()["data"]) == 1
