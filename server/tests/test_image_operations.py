"""Image operations as first-class jobs on the REST door: the chain by id, provenance, prices,
and every kind of bad input refused with a 4xx before anything is stored or charged."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import date
from pathlib import Path

import httpx
import pytest
from image_inputs import gif, mask_png, png, png_bomb, truncated_png
from PIL import Image

from orchestrator.media.provenance import read_provenance
from orchestrator.providers.offline import prompt_colour


async def _image(url: str) -> Image.Image:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


async def _bytes(url: str) -> bytes:
    async with httpx.AsyncClient() as http:
        return (await http.get(url)).content


def _stored_files(server) -> list[Path]:
    root = Path(server.settings.data_dir) / "images"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def _usage(api: httpx.AsyncClient) -> dict:
    today = date.today().isoformat()
    response = await api.get("/api/v1/usage", params={"start_date": today, "end_date": today})
    return response.json()


async def test_chain_by_id_generate_edit_upscale_twice_remove_background(server, api) -> None:
    first = await api.post(
        "/api/v1/generate", json={"prompt": "a red kite", "model": "dall-e-2", "size": "256x256"}
    )
    assert first.status_code == 200, first.text
    root = first.json()["id"]

    edit = await api.post(
        "/api/v1/images/edits",
        json={"model": "dall-e-2", "prompt": "paint it teal", "images": [root]},
    )
    assert edit.status_code == 200, edit.text
    edited = edit.json()
    assert edited["operation"] == "edit" and edited["parents"] == [root]
    assert edited["sources"][0]["origin"] == "generation" and edited["cost"] == 0.016
    picture = (await _image(edited["image_url"])).convert("RGB")
    assert picture.getpixel((128, 160)) == prompt_colour("paint it teal|0")  # the painted middle

    up1 = await api.post(
        "/api/v1/images/upscale", json={"model": "magnific-upscaler", "image": edited["id"], "factor": 2}
    )
    assert up1.status_code == 200, up1.text
    assert up1.json()["operation_params"] == {"factor": 2}  # under the request's own name
    up2 = await api.post(
        "/api/v1/images/upscale", json={"model": "magnific-upscaler", "image": up1.json()["id"], "factor": 2}
    )
    assert up2.status_code == 200, up2.text
    assert (await _image(up1.json()["image_url"])).size == (512, 512)
    assert (await _image(up2.json()["image_url"])).size == (1024, 1024)
    assert up1.json()["cost"] == 0.10 and up2.json()["cost"] == 0.10

    cut = await api.post(
        "/api/v1/images/remove-background",
        json={"model": "freepik-remove-background", "image": up2.json()["id"]},
    )
    assert cut.status_code == 200, cut.text
    cutout = await _image(cut.json()["image_url"])
    assert cutout.mode == "RGBA" and cutout.size == (1024, 1024)
    assert cutout.getchannel("A").getextrema()[0] == 0  # some pixels really are transparent
    assert cut.json()["cost"] == 0.01

    chunks = read_provenance(await _bytes(cut.json()["image_url"]))
    assert chunks["generation_id"] == cut.json()["id"] and chunks["model"] == "freepik-remove-background"
    assert f"Sources: {up2.json()['id']}" in chunks["parameters"]

    # The chain: parents and children on GET, and history by operation and by source.
    middle = (await api.get(f"/api/v1/generations/{up1.json()['id']}")).json()
    assert middle["parents"] == [edited["id"]] and middle["children"] == [up2.json()["id"]]
    ops = (await api.get("/api/v1/generations", params={"limit": 10})).json()["data"]
    assert [(g["operation"], g["cost"]) for g in ops] == [
        ("remove_background", 0.01),
        ("upscale", 0.10),
        ("upscale", 0.10),
        ("edit", 0.016),
        ("generate", 0.016),
    ]
    upscales = (await api.get("/api/v1/generations", params={"operation": "upscale"})).json()["data"]
    assert {g["id"] for g in upscales} == {up1.json()["id"], up2.json()["id"]}
    from_root = (await api.get("/api/v1/generations", params={"source": root})).json()["data"]
    assert [g["id"] for g in from_root] == [edited["id"]]

    usage = (await api.get("/api/v1/usage", params={"group_by": "operation"})).json()
    groups = {g["key"]: (g["generations"], g["cost"]) for g in usage["groups"]}
    assert groups == {
        "edit": (1, 0.016),
        "generate": (1, 0.016),
        "remove_background": (1, 0.01),
        "upscale": (2, 0.2),
    }


async def test_multipart_edit_with_mask_paints_only_the_transparent_area(server, api) -> None:
    source = png(128, 128, (30, 120, 200))
    response = await api.post(
        "/api/v1/images/edits",
        data={"model": "gpt-image-1", "prompt": "a yellow sun"},
        files=[
            ("image", ("a.png", source, "image/png")),
            ("mask", ("m.png", mask_png(128, 128), "image/png")),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["role"] for s in body["sources"]] == ["image", "mask"]
    assert [s["origin"] for s in body["sources"]] == ["upload", "upload"]
    picture = (await _image(body["image_url"])).convert("RGB")
    assert picture.getpixel((20, 40)) == prompt_colour("a yellow sun|0")  # in the transparent quarter
    assert picture.getpixel((100, 100)) == (30, 120, 200)  # outside it: untouched
    assert body["cost"] == 0.063  # gpt-image-1 edit at medium, a non-listed size: the "*" row


async def test_an_operation_the_model_lacks_is_a_422_naming_the_models_that_have_it(server, api) -> None:
    first = await api.post("/api/v1/generate", json={"prompt": "x", "model": "dall-e-3"})
    response = await api.post(
        "/api/v1/images/upscale", json={"model": "dall-e-3", "image": first.json()["id"], "factor": 2}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"] == "model" and "magnific-upscaler" in error["message"]
    bad_factor = await api.post(
        "/api/v1/images/upscale",
        json={"model": "magnific-upscaler", "image": first.json()["id"], "factor": 3},
    )
    assert bad_factor.status_code == 422 and bad_factor.json()["error"]["param"] == "factor"


async def test_models_list_their_operations_and_the_422_names_exactly_those_models(server, api) -> None:
    models = {m["name"]: m for m in (await api.get("/api/v1/models")).json()["data"]}
    magnific = models["magnific-upscaler"]
    assert magnific["text_to_image"] is False and list(magnific["operations"]) == ["upscale"]
    upscale = magnific["operations"]["upscale"]
    assert upscale["factors"] == [2, 4, 8, 16] and upscale["prompt"] is False
    assert upscale["price"] == 0.10 and upscale["pricing"]["16x"] == {"*": 0.80}
    assert upscale["providers"] == ["freepik"] and upscale["max_input_images"] == 1
    edit = models["gpt-image-1"]["operations"]["edit"]
    assert edit["max_input_images"] == 16 and edit["mask"] is True and edit["factors"] is None
    assert edit["price"] == 0.042  # 1024x1024, medium: the model's defaults
    kontext = models["flux-kontext-pro"]["operations"]["image_to_image"]
    assert kontext["strength"] == [0.0, 1.0] and kontext["default_strength"] == 0.8
    assert kontext["providers"] == ["fal", "replicate"]
    assert models["dall-e-3"]["operations"] == {} and models["dall-e-3"]["text_to_image"] is True
    single = (await api.get("/api/v1/models/stability-remove-background")).json()
    assert single["operations"]["remove_background"]["providers"] == ["stability", "freepik"]

    # The 422 for a missing operation names the same models the listing shows with it.
    first = await api.post("/api/v1/generate", json={"prompt": "x", "model": "dall-e-3"})
    refused = await api.post(
        "/api/v1/images/upscale", json={"model": "dall-e-3", "image": first.json()["id"], "factor": 2}
    )
    assert refused.status_code == 422
    named = refused.json()["error"]["message"].split("models that do: ", 1)[1].split(", ")
    assert sorted(named) == sorted(n for n, m in models.items() if "upscale" in m["operations"])


async def test_image_to_image_blends_by_strength_and_variation_derives_from_the_input(server, api) -> None:
    source = png(96, 64, (200, 40, 40))
    keep = await api.post(
        "/api/v1/images/image-to-image",
        data={"model": "flux-kontext-pro", "prompt": "a field", "strength": "0", "seed": "7"},
        files={"image": ("a.png", source, "image/png")},
    )
    assert keep.status_code == 200, keep.text
    kept = (await _image(keep.json()["image_url"])).convert("RGB")
    assert kept.size == (96, 64) and kept.getpixel((50, 40)) == (200, 40, 40)  # strength 0 keeps the image
    variation = await api.post(
        "/api/v1/images/variations",
        data={"model": "dall-e-2", "seed": "3"},
        files={"image": ("a.png", source, "image/png")},
    )
    assert variation.status_code == 200, variation.text
    again = await api.post(
        "/api/v1/images/variations",
        data={"model": "dall-e-2", "seed": "3"},
        files={"image": ("a.png", source, "image/png")},
    )
    assert await _bytes(variation.json()["image_url"]) != b""
    first_pixels = (await _image(variation.json()["image_url"])).convert("RGB").getpixel((50, 40))
    second_pixels = (await _image(again.json()["image_url"])).convert("RGB").getpixel((50, 40))
    assert first_pixels == second_pixels != (200, 40, 40)  # deterministic, and not the input


async def test_another_projects_image_id_is_a_404(server, api) -> None:
    mine = await api.post("/api/v1/generate", json={"prompt": "mine", "model": "dall-e-2"})
    other_key = await server.create_key(project="other")
    async with server.client(other_key) as other:
        response = await other.post(
            "/api/v1/images/upscale",
            json={"model": "magnific-upscaler", "image": mine.json()["id"], "factor": 2},
        )
    assert response.status_code == 404 and response.json()["error"]["param"] == "image"


class _Redirector:
    """A loopback server that answers every request with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: {self.target}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


BAD_UPLOADS = {
    "bomb": (png_bomb(), 422, "too_many_pixels"),
    "truncated": (truncated_png(), 422, "corrupt"),
    "gif": (gif(), 422, "format"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
async def test_bad_uploads_are_refused_with_nothing_stored_or_charged(server, api, case) -> None:
    data, status, rule = BAD_UPLOADS[case]
    before = _stored_files(server)
    response = await api.post(
        "/api/v1/images/edits",
        data={"model": "gpt-image-1", "prompt": "x"},
        files={"image": ("in.png", data, "image/png")},
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == "images[0]" and f"rule: {rule}" in error["message"]
    assert _stored_files(server) == before
    assert (await api.get("/api/v1/generations")).json()["data"] == []
    assert (await _usage(api))["total_cost"] == 0


async def test_a_60_mb_upload_is_a_413_and_a_20_mb_one_goes_through(server, api) -> None:
    big = await api.post(
        "/api/v1/images/remove-background",
        files={"image": ("big.png", b"\x89PNG" + b"\0" * 60_000_000, "image/png")},
    )
    assert big.status_code == 413
    assert _stored_files(server) == []
    side = 2580
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=0)
    assert 19_900_000 < len(out.getvalue()) <= 20_000_000  # just under the per-file cap
    ok = await api.post(
        "/api/v1/images/remove-background",
        data={"model": "freepik-remove-background"},
        files={"image": ("noise.png", out.getvalue(), "image/png")},
    )
    assert ok.status_code == 200, ok.text
    # The JSON endpoints keep their small cap.
    assert (await api.post("/api/v1/generate", content=b"{" + b" " * 2_000_000 + b"}")).status_code == 413


async def test_input_urls_to_loopback_or_redirecting_to_private_addresses_are_refused(
    start_server,
) -> None:
    redirect = await asyncio.start_server(_Redirector("https://10.1.2.3/image.png").handle, "127.0.0.1", 0)
    port = redirect.sockets[0].getsockname()[1]
    server = await start_server(input_url_trusted_hosts=[f"127.0.0.1:{port}"])
    key = await server.create_key()
    async with server.client(key) as api:
        direct = await api.post(
            "/api/v1/images/upscale",
            json={"model": "magnific-upscaler", "image": "https://127.0.0.1:9/x.png", "factor": 2},
        )
        assert direct.status_code == 422
        assert (
            direct.json()["error"]["param"] == "image"
            and "private_address" in direct.json()["error"]["message"]
        )
        redirected = await api.post(
            "/api/v1/images/upscale",
            json={"model": "magnific-upscaler", "image": f"http://127.0.0.1:{port}/x.png", "factor": 2},
        )
        assert redirected.status_code == 422, redirected.text
        assert "private_address" in redirected.json()["error"]["message"]
        assert (await api.get("/api/v1/generations")).json()["data"] == []
    assert _stored_files(server) == []
    redirect.close()


async def test_a_retried_operation_with_the_same_idempotency_key_is_one_job_and_one_charge(
    server, api
) -> None:
    source = png(64, 64, (1, 2, 3))
    answers = []
    for _ in range(2):
        answers.append(
            await api.post(
                "/api/v1/images/upscale",
                data={"model": "magnific-upscaler", "factor": "2"},
                files={"image": ("a.png", source, "image/png")},
                headers={"Idempotency-Key": "upscale-once"},
            )
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert answers[1].headers.get("idempotent-replayed") == "true"
    assert len((await api.get("/api/v1/generations")).json()["data"]) == 1
    assert (await _usage(api))["total_cost"] == 0.10
    # One input file stored, for the one job.
    assert len([p for p in _stored_files(server) if "/in-" in str(p)]) == 1


async def test_the_budget_is_reserved_before_the_call_and_a_refusal_stores_nothing(server) -> None:
    from decimal import Decimal

    key = await server.create_key(monthly_budget=Decimal("0.15"))
    async with server.client(key) as api:
        first = await api.post(
            "/api/v1/images/upscale",
            data={"model": "magnific-upscaler", "factor": "2"},
            files={"image": ("a.png", png(32, 32), "image/png")},
        )
        assert first.status_code == 200, first.text
        stored = _stored_files(server)
        second = await api.post(
            "/api/v1/images/upscale",
            data={"model": "magnific-upscaler", "factor": "2"},
            files={"image": ("b.png", png(32, 32, (9, 9, 9)), "image/png")},
        )
        assert second.status_code == 402, second.text
        assert _stored_files(server) == stored  # the second input was stored, then removed again
        assert len((await api.get("/api/v1/generations")).json()["data"]) == 1


async def test_metrics_count_operations_by_label(server, api) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from support import sample_value

    await api.post(
        "/api/v1/images/remove-background",
        data={"model": "freepik-remove-background"},
        files={"image": ("a.png", png(32, 32), "image/png")},
    )
    async with server.client(await server.create_key(mode="live")) as scraper:  # /metrics wants live admin
        text = (await scraper.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert (
        sample_value(
            families, "orchestrator_generations_total", operation="remove_background", status="succeeded"
        )
        == 1
    )
    assert sample_value(families, "orchestrator_generations_total", operation="upscale") == 0


def test_fallback_only_moves_between_routes_that_support_the_operation() -> None:
    from orchestrator.catalog.catalog import load_catalog
    from orchestrator.generation.request import Planner
    from orchestrator.generation.routing import Router
    from orchestrator.providers.offline import OfflineRenderer

    catalog = load_catalog()
    offline = OfflineRenderer()
    # Live providers for every route of flux-dev; only replicate and fal serve its image_to_image.
    router = Router(catalog, {"replicate": offline, "fal": offline, "freepik": offline}, offline)
    planner = Planner(catalog, router)
    model = catalog.models["flux-dev"]
    plan = planner.plan_operation(
        model, "image_to_image", size="1024x1024", n=1, params={"strength": 0.5}, livemode=True
    )
    assert [(p.route.provider, p.route.provider_model("image_to_image")) for p in plan.routes] == [
        ("replicate", "black-forest-labs/flux-dev"),
        ("fal", "fal-ai/flux/dev/image-to-image"),
    ]
    generate = planner.plan_operation(model, "generate", size="1024x1024", n=1, params={}, livemode=True)
    assert [p.route.provider for p in generate.routes] == ["replicate", "fal", "freepik"]


async def test_an_async_operation_streams_its_job_events_to_the_end(server, api) -> None:
    accepted = await api.post(
        "/api/v1/images/upscale",
        data={"model": "magnific-upscaler", "factor": "2"},
        files={"image": ("a.png", png(32, 32), "image/png")},
        headers={"Prefer": "respond-async"},
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    names = []
    async with api.stream("GET", f"/api/v1/generations/{job_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                names.append(line.removeprefix("event: "))
    assert names[-1] == "succeeded"
    done = (await api.get(f"/api/v1/generations/{job_id}")).json()
    assert done["operation"] == "upscale" and done["images"][0]["width"] == 64


async def test_provenance_chunks_can_be_turned_off(start_server) -> None:
    server = await start_server(provenance_chunks=False)
    key = await server.create_key()
    async with server.client(key) as api:
        body = (await api.post("/api/v1/generate", json={"prompt": "plain", "model": "dall-e-2"})).json()
    assert "generation_id" not in read_provenance(await _bytes(body["image_url"]))


async def test_usage_storage_counts_outputs_and_uploaded_inputs_but_not_reused_images(server, api) -> None:
    assert (await _usage(api))["storage_bytes"] == 0
    first = await api.post(
        "/api/v1/generate", json={"prompt": "a lantern", "model": "dall-e-2", "size": "256x256"}
    )
    assert first.status_code == 200, first.text
    generated = len(await _bytes(first.json()["image_url"]))
    assert (await _usage(api))["storage_bytes"] == generated

    upload = png(64, 48, (90, 30, 160))
    uploaded = await api.post(
        "/api/v1/images/upscale",
        data={"model": "magnific-upscaler", "factor": "2"},
        files={"image": ("in.png", upload, "image/png")},
    )
    assert uploaded.status_code == 200, uploaded.text
    enlarged = len(await _bytes(uploaded.json()["image_url"]))
    assert (await _usage(api))["storage_bytes"] == generated + len(upload) + enlarged

    # An image we already store, used by id, is referenced: only the new output adds bytes.
    by_id = await api.post(
        "/api/v1/images/upscale",
        json={"model": "magnific-upscaler", "image": first.json()["id"], "factor": 2},
    )
    assert by_id.status_code == 200, by_id.text
    again = len(await _bytes(by_id.json()["image_url"]))
    total = generated + len(upload) + enlarged + again
    assert (await _usage(api))["storage_bytes"] == total

    # A cache hit shares its source's files: it stores nothing new.
    seeded = {"prompt": "a lantern", "model": "stable-image-core", "seed": 7, "cache": True}
    paid = await api.post("/api/v1/generate", json=seeded)
    hit = await api.post("/api/v1/generate", json=seeded)
    assert paid.status_code == hit.status_code == 200, hit.text
    assert hit.json()["cached_from"] == paid.json()["id"]
    total += len(await _bytes(paid.json()["image_url"]))
    assert (await _usage(api))["storage_bytes"] == total


def test_every_catalog_route_names_an_operation_its_adapter_performs() -> None:
    """A route's provider model for an operation must be one its adapter does that operation
    with; otherwise live requests fail with invalid_request (test keys never reach adapters)."""
    from orchestrator.catalog.catalog import load_catalog
    from orchestrator.providers import fal, freepik, openai, replicate, stability

    adapters = {
        "openai": openai.OpenAIProvider,
        "stability": stability.StabilityProvider,
        "replicate": replicate.ReplicateProvider,
        "fal": fal.FalProvider,
        "freepik": freepik.FreepikProvider,
    }
    wrong = []
    for name, model in load_catalog().models.items():
        for route in model.routes:
            for operation in route.operations:
                adapter = adapters[route.provider]
                provider_model = route.provider_model(operation)
                by_route = getattr(adapter, "route_operations", None)
                performs = adapter.operations if by_route is None else by_route(provider_model)
                if operation not in performs:
                    wrong.append(f"{name}: {route.provider} {provider_model!r} does not {operation}")
    assert wrong == []
