"""Each public method of both clients: request building, response parsing, job handling."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import (
    APITimeoutError,
    BatchItem,
    BatchResult,
    ConflictError,
    ContentPolicyError,
    GenerationResponse,
    ModelNotAvailableError,
    NotFoundError,
    ProviderError,
    ProviderTimeoutError,
)
from tests.support import BASE_URL, FakeTime, MockServer, collect, error_body, generation, resolve

MODEL = {
    "name": "dall-e-3",
    "description": "OpenAI DALL·E 3",
    "max_resolution": "1792x1024",
    "supported_styles": ["vivid", "photorealistic"],
    "supported_sizes": ["1024x1024"],
    "supported_qualities": ["standard", "hd"],
    "default_size": "1024x1024",
    "default_quality": "standard",
    "default_style": "vivid",
    "pricing_per_image": 0.04,
    "pricing": {"1024x1024": {"standard": 0.04, "hd": 0.08}},
    "currency": "USD",
    "average_time": 8.5,
    "max_images": 1,
    "supports_seed": False,
    "supports_negative_prompt": False,
    "providers": ["openai"],
    "available": True,
    "unavailable_reason": None,
    "notes": None,
}


# ------------------------------------------------------------------------------ generate


async def test_generate_sends_the_contract(client: Any, server: MockServer) -> None:
    server.json(200, generation(metadata={"campaign": "summer-2024"}))
    result = await resolve(
        client.generate(
            prompt="Your creative prompt",
            model="dall-e-3",
            style="photorealistic",
            size="1024x1024",
            quality="hd",
            metadata={"campaign": "summer-2024", "brand": "your-brand"},
        )
    )
    request = server.last
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/api/v1/generate"
    assert request.headers["Authorization"] == "Bearer sk-test-unit"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("freepik-ai-orchestrator-python/")
    assert request.headers["Prefer"] == "wait=599"  # the 600 s budget, minus a margin
    assert json.loads(request.content) == {
        "prompt": "Your creative prompt",
        "model": "dall-e-3",
        "style": "photorealistic",
        "size": "1024x1024",
        "quality": "hd",
        "metadata": {"campaign": "summer-2024", "brand": "your-brand"},
    }
    assert isinstance(result, GenerationResponse)
    assert result.image_url and result.thumbnail_url
    assert result.cost == 0.04
    assert result.created_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert result.images[0].width == 1024
    assert result._request_id == "req_1"
    assert result._idempotent_replayed is False


async def test_generate_omits_unset_fields(client: Any, server: MockServer) -> None:
    server.json(200, generation())
    await resolve(client.generate(prompt="p", model="m", n=2, seed=0, negative_prompt="blur"))
    assert json.loads(server.last.content) == {
        "prompt": "p",
        "model": "m",
        "n": 2,
        "seed": 0,
        "negative_prompt": "blur",
    }


async def test_submit_asks_for_async_and_returns_the_job(client: Any, server: MockServer) -> None:
    server.json(202, generation(status="queued", image_url=None, thumbnail_url=None, images=[]))
    job = await resolve(client.submit(prompt="p", model="dall-e-3"))
    assert job.status == "queued" and not job.is_terminal
    assert server.last.headers["Prefer"] == "respond-async"
    server.json(202, generation(status="queued"))
    job = await resolve(client.generate(prompt="p", model="dall-e-3", wait=False))
    assert job.status == "queued"


async def test_generate_waits_for_a_202_job(client: Any, server: MockServer, fake_time: FakeTime) -> None:
    server.json(202, generation(status="queued", image_url=None))
    server.json(200, generation(status="running", image_url=None))
    server.json(200, generation(status="succeeded"))
    result = await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert result.status == "succeeded" and result.image_url
    assert [r.url.path for r in server.requests[1:]] == ["/api/v1/generations/gen_1"] * 2
    assert fake_time.sleeps == [0.5]


@pytest.mark.parametrize(
    ("code", "exc_type"),
    [
        ("provider_error", ProviderError),
        ("provider_timeout", ProviderTimeoutError),
        ("content_policy_violation", ContentPolicyError),
        ("model_not_available", ModelNotAvailableError),
    ],
)
async def test_generate_raises_when_the_waited_job_fails(
    code: str, exc_type: type[Exception], client: Any, server: MockServer
) -> None:
    server.json(202, generation(status="queued"))
    server.json(200, generation(status="failed", image_url=None, error={"code": code, "message": "nope"}))
    with pytest.raises(exc_type) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert info.value.generation_id == "gen_1"  # type: ignore[attr-defined]
    assert info.value.message == "nope"  # type: ignore[attr-defined]


async def test_generate_raises_when_the_waited_job_is_canceled(client: Any, server: MockServer) -> None:
    server.json(202, generation(status="queued")).json(200, generation(status="canceled"))
    with pytest.raises(ConflictError) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert info.value.code == "generation_canceled"


async def test_sync_endpoint_failure_keeps_generation_id(client: Any, server: MockServer) -> None:
    server.json(502, error_body("provider_error", "provider_error", "upstream 500", generation_id="gen_9"))
    with pytest.raises(ProviderError) as info:
        await resolve(client.generate(prompt="p", model="dall-e-3"))
    assert info.value.generation_id == "gen_9"
    assert info.value.status_code == 502
    assert len(server.requests) == 1  # the job ran and failed: a retry would only replay it


async def test_wait_for_times_out(client: Any, server: MockServer, fake_time: FakeTime) -> None:
    server.fallback = lambda request: httpx.Response(200, json=generation(status="running"))
    with pytest.raises(APITimeoutError) as info:
        await resolve(client.wait_for("gen_1", timeout=5, poll_interval=1))
    assert info.value.generation_id == "gen_1"
    assert sum(fake_time.sleeps) == pytest.approx(5.0)
    assert max(fake_time.sleeps) <= 4.0


async def test_wait_for_returns_a_failed_job_without_raising(client: Any, server: MockServer) -> None:
    server.json(200, generation(status="failed", error={"code": "provider_error", "message": "x"}))
    job = await resolve(client.wait_for("gen_1"))
    assert job.status == "failed" and job.error.code == "provider_error"


async def test_get_generation_quotes_the_id(client: Any, server: MockServer) -> None:
    server.json(404, error_body("not_found", "not_found"))
    with pytest.raises(NotFoundError):
        await resolve(client.get_generation("../keys"))
    assert server.last.url.raw_path == b"/api/v1/generations/..%2Fkeys"


async def test_cancel(client: Any, server: MockServer) -> None:
    server.json(200, generation(status="canceled"))
    job = await resolve(client.cancel("gen_1"))
    assert job.status == "canceled"
    assert server.last.method == "POST" and server.last.url.path == "/api/v1/generations/gen_1/cancel"


async def test_cancel_finished_job_raises_conflict(client: Any, server: MockServer) -> None:
    server.json(409, error_body("invalid_request_error", "generation_finished"))
    with pytest.raises(ConflictError):
        await resolve(client.cancel("gen_1"))


# ------------------------------------------------------------------------------ events


def _sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    chunks = ["retry: 2000\n\n", ": keep-alive\n\n"]
    for name, body in events:
        chunks.append(f"id: {body['id']}:{name}\nevent: {name}\ndata: {json.dumps(body)}\n\n")
    return "".join(chunks).encode()


async def test_stream_events(client: Any, server: MockServer) -> None:
    body = _sse(
        ("queued", generation(status="queued", progress=0.0)),
        ("running", generation(status="running", progress=0.5)),
        ("succeeded", generation(status="succeeded", progress=1.0)),
        ("running", generation(status="running")),  # after the terminal event: never read
    )
    server.add(httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"}))
    events = await collect(client.stream_events("gen_1"))
    assert [e.event for e in events] == ["queued", "running", "succeeded"]
    assert events[1].data.progress == 0.5
    assert events[-1].is_terminal and events[-1].status == "succeeded"
    assert events[0].id == "gen_1:queued"
    assert server.last.headers["Accept"] == "text/event-stream"


async def test_stream_events_unknown_generation(client: Any, server: MockServer) -> None:
    server.json(404, error_body("not_found", "not_found"))
    with pytest.raises(NotFoundError):
        await collect(client.stream_events("gen_404"))


# ------------------------------------------------------------------------------ batch


def _batch() -> dict[str, Any]:
    return {
        "object": "batch",
        "id": "batch_1",
        "data": [
            {
                "index": 0,
                "prompt": "Prompt 1",
                "status": "succeeded",
                "generation": generation("gen_a"),
                "error": None,
            },
            {
                "index": 1,
                "prompt": "Prompt 2",
                "status": "failed",
                "generation": None,
                "error": {
                    "type": "invalid_request_error",
                    "code": "content_policy_violation",
                    "message": "refused",
                    "param": None,
                    "request_id": "req_b",
                    "generation_id": "gen_b",
                },
            },
            {
                "index": 2,
                "prompt": "Prompt 3",
                "status": "succeeded",
                "generation": generation("gen_c"),
                "error": None,
            },
        ],
        "succeeded": 2,
        "failed": 1,
        "total_cost": 0.08,
    }


async def test_generate_batch_returns_items_in_order(client: Any, server: MockServer) -> None:
    server.json(200, _batch())
    responses = await resolve(
        client.generate_batch(prompts=["Prompt 1", "Prompt 2", "Prompt 3"], model="dall-e-3", batch_size=3)
    )
    assert json.loads(server.last.content) == {
        "prompts": ["Prompt 1", "Prompt 2", "Prompt 3"],
        "model": "dall-e-3",
        "batch_size": 3,
    }
    assert isinstance(responses, BatchResult) and isinstance(responses, list)
    assert len(responses) == 3 and all(isinstance(r, BatchItem) for r in responses)
    assert [r.status for r in responses] == ["succeeded", "failed", "succeeded"]
    assert responses[0].image_url == responses[0].generation.image_url
    assert responses[1].image_url is None and responses[1].error.code == "content_policy_violation"
    assert isinstance(responses[1].exception, ContentPolicyError)
    assert responses[1].exception.generation_id == "gen_b"
    assert [g.id for g in responses.generations] == ["gen_a", "gen_c"]
    assert [e.index for e in responses.errors] == [1]
    assert (responses.id, responses.succeeded, responses.failed, responses.total_cost) == (
        "batch_1",
        2,
        1,
        0.08,
    )
    assert responses[0].raise_for_error().id == "gen_a"


async def test_generate_batch_raise_on_error(client: Any, server: MockServer) -> None:
    server.json(200, _batch())
    with pytest.raises(ContentPolicyError):
        await resolve(client.generate_batch(prompts=["a", "b", "c"], model="dall-e-3", raise_on_error=True))


async def test_generate_batch_rejects_a_bare_string(client: Any) -> None:
    with pytest.raises(TypeError):
        await resolve(client.generate_batch(prompts="one prompt", model="dall-e-3"))


# ------------------------------------------------------------------------------ history


async def test_history_filters(client: Any, server: MockServer) -> None:
    server.json(200, {"object": "list", "data": [generation()], "has_more": False, "next_cursor": None})
    page = await resolve(
        client.get_generation_history(
            limit=50,
            filter_by_model="dall-e-3",
            status="succeeded",
            since=datetime(2024, 1, 1, tzinfo=timezone.utc),
            until="2024-02-01T00:00:00Z",
            metadata={"campaign": "summer-2024", "priority": 2, "vip": True},
            query="sunset",
            cursor="cur_0",
        )
    )
    assert list(server.last.url.params.multi_items()) == [
        ("limit", "50"),
        ("model", "dall-e-3"),
        ("status", "succeeded"),
        ("since", "2024-01-01T00:00:00+00:00"),
        ("until", "2024-02-01T00:00:00Z"),
        ("q", "sunset"),
        ("metadata.campaign", "summer-2024"),
        ("metadata.priority", "2"),
        ("metadata.vip", "true"),
        ("cursor", "cur_0"),
    ]
    assert page.data[0].id == "gen_1" and page[0].id == "gen_1" and len(page) == 1
    assert not page.has_next_page()


async def test_history_iter_pages(client: Any, server: MockServer) -> None:
    server.json(200, {"object": "list", "data": [generation("a")], "has_more": True, "next_cursor": "c1"})
    server.json(200, {"object": "list", "data": [generation("b")], "has_more": False, "next_cursor": None})
    page = await resolve(client.get_generation_history(limit=1, model="dall-e-3"))
    pages = await collect(page.iter_pages())
    assert [[g.id for g in p.data] for p in pages] == [["a"], ["b"]]
    assert server.requests[1].url.params["cursor"] == "c1"
    assert server.requests[1].url.params["model"] == "dall-e-3"


async def test_history_model_aliases_must_agree(client: Any) -> None:
    with pytest.raises(ValueError):
        await resolve(client.get_generation_history(filter_by_model="a", model="b"))


# ------------------------------------------------------------------------------ catalog, usage


async def test_list_models(client: Any, server: MockServer) -> None:
    server.json(200, {"object": "list", "data": [MODEL, {**MODEL, "name": "flux-pro", "available": False}]})
    models = await resolve(client.list_models())
    assert [m.name for m in models] == ["dall-e-3", "flux-pro"]
    assert models[0].pricing_per_image == 0.04 and models[1].available is False


async def test_get_model_info(client: Any, server: MockServer) -> None:
    server.json(200, MODEL)
    info = await resolve(client.get_model_info("dall-e-3"))
    assert info.max_resolution == "1792x1024"
    assert info.supported_styles == ["vivid", "photorealistic"]
    assert server.last.url.path == "/api/v1/models/dall-e-3"


async def test_get_model_info_unknown(client: Any, server: MockServer) -> None:
    server.json(404, error_body("model_not_available", "model_not_available", "unknown model 'x'"))
    with pytest.raises(ModelNotAvailableError):
        await resolve(client.get_model_info("x"))


USAGE = {
    "object": "usage",
    "start_date": "2024-01-01",
    "end_date": "2024-01-31",
    "livemode": False,
    "total_generations": 12,
    "total_images": 13,
    "total_cost": 0.52,
    "failed_generations": 1,
    "unpriced_generations": 0,
    "currency": "USD",
    "by_model": [{"key": "dall-e-3", "generations": 12, "images": 13, "cost": 0.52}],
    "by_day": [],
    "group_by": "metadata.campaign",
    "groups": [{"key": "summer-2024", "generations": 2, "images": 2, "cost": 0.08}],
}


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-01-01", "2024-01-31"), (date(2024, 1, 1), datetime(2024, 1, 31, 12, tzinfo=timezone.utc))],
)
async def test_get_usage_stats(start: Any, end: Any, client: Any, server: MockServer) -> None:
    server.json(200, USAGE)
    stats = await resolve(
        client.get_usage_stats(start_date=start, end_date=end, group_by="metadata.campaign")
    )
    assert dict(server.last.url.params) == {
        "start_date": "2024-01-01",
        "end_date": "2024-01-31",
        "group_by": "metadata.campaign",
    }
    assert stats.total_generations == 12 and stats.total_cost == 0.52
    assert stats.start_date == date(2024, 1, 1)
    assert stats.by_model[0].key == "dall-e-3"
    assert stats.groups and stats.groups[0].key == "summer-2024"


# ------------------------------------------------------------------------------ forward compatibility


async def test_unknown_fields_are_kept(client: Any, server: MockServer) -> None:
    server.json(200, generation(watermark={"kind": "c2pa"}, status="succeeded", new_status_detail="x"))
    result = await resolve(client.get_generation("gen_1"))
    assert result.watermark == {"kind": "c2pa"}
    assert result.model_dump()["new_status_detail"] == "x"
    server.json(200, {**MODEL, "latency_p95": 12.0, "pricing": {}, "supports_editing": True})
    info = await resolve(client.get_model_info("dall-e-3"))
    assert info.latency_p95 == 12.0 and info.supports_editing is True


async def test_missing_optional_fields_default(client: Any, server: MockServer) -> None:
    server.json(200, {"id": "gen_1", "status": "queued", "prompt": "p", "model": "m"})
    result = await resolve(client.get_generation("gen_1"))
    assert result.image_url is None and result.images == [] and result.cost is None


async def test_unparsable_success_body_is_an_orchestration_error(client: Any, server: MockServer) -> None:
    from freepik_ai_orchestrator import OrchestrationError

    server.add(httpx.Response(200, text="<html>captive portal</html>"))
    with pytest.raises(OrchestrationError, match="unexpected response body"):
        await resolve(client.get_generation("gen_1"))


# ------------------------------------------------------------------------------ downloads

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def test_download_to_directory_and_file(client: Any, server: MockServer, tmp_path: Path) -> None:
    image_headers = {"Content-Type": "image/png"}
    server.add(httpx.Response(200, content=PNG, headers=image_headers))
    paths = await resolve(client.download(GenerationResponse.model_validate(generation()), tmp_path))
    assert paths == [tmp_path / "gen_1-0.png"] and paths[0].read_bytes() == PNG
    server.add(httpx.Response(200, content=PNG, headers=image_headers))
    target = tmp_path / "nested" / "out.png"
    paths = await resolve(client.download("https://cdn.example/x/y.png?sig=1", target))
    assert paths == [target] and target.read_bytes() == PNG
    assert "Authorization" not in server.last.headers  # never leak the key to another host
    assert not list(tmp_path.glob("**/*.part"))


async def test_download_thumbnail_same_origin_keeps_auth(
    client: Any, server: MockServer, tmp_path: Path
) -> None:
    server.add(httpx.Response(200, content=b"RIFF", headers={"Content-Type": "image/webp"}))
    gen = GenerationResponse.model_validate(generation())
    [path] = await resolve(client.download(gen, tmp_path / "t.webp", thumbnail=True))
    assert server.last.url.path == "/api/v1/images/gen_1_thumb.png"
    assert server.last.headers["Authorization"] == "Bearer sk-test-unit"
    assert path.read_bytes() == b"RIFF"


async def test_download_failure_leaves_no_file(client: Any, server: MockServer, tmp_path: Path) -> None:
    server.json(404, error_body("not_found", "not_found"))
    with pytest.raises(NotFoundError):
        await resolve(client.download("https://cdn.example/gone.png", tmp_path / "gone.png"))
    assert list(tmp_path.iterdir()) == []


async def test_download_needs_an_image(client: Any) -> None:
    job = GenerationResponse.model_validate(generation(status="queued", image_url=None, images=[]))
    with pytest.raises(ValueError, match="no image URL"):
        await resolve(client.download(job, "x.png"))


async def test_stream_events_reconnects_when_cut_early(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    first = _sse(("queued", generation(status="queued")), ("running", generation(status="running")))
    second = _sse(("succeeded", generation(status="succeeded")))
    server.add(httpx.Response(200, content=first), httpx.Response(200, content=second))
    events = await collect(client.stream_events("gen_1"))
    assert [e.event for e in events] == ["queued", "running", "succeeded"]
    assert len(server.requests) == 2 and fake_time.sleeps == [0.5]
    assert server.requests[1].headers["Last-Event-ID"] == "gen_1:running"


async def test_stream_events_gives_up_after_max_retries(client: Any, server: MockServer) -> None:
    from freepik_ai_orchestrator import APIConnectionError

    for _ in range(3):
        server.add(httpx.Response(200, content=_sse(("running", generation(status="running")))))
    with pytest.raises(APIConnectionError, match="ended before the job finished") as info:
        await collect(client.stream_events("gen_1"))
    assert info.value.generation_id == "gen_1"
    assert len(server.requests) == 3


async def test_stream_events_last_event_without_blank_line(client: Any, server: MockServer) -> None:
    body = _sse(("running", generation(status="running"))) + (
        b"event: succeeded\ndata: " + json.dumps(generation(status="succeeded")).encode()
    )
    server.add(httpx.Response(200, content=body))
    events = await collect(client.stream_events("gen_1"))
    assert [e.event for e in events] == ["running", "succeeded"]


async def test_generate_batch_waits_for_items_still_running(
    client: Any, server: MockServer, fake_time: FakeTime
) -> None:
    batch = _batch()
    pending_error = {
        "type": "invalid_request_error",
        "code": "generation_pending",
        "message": "still running",
    }
    batch["data"][1] = {
        "index": 1,
        "prompt": "Prompt 2",
        "status": "failed",
        "generation": generation("gen_b", status="running", image_url=None, cost=None),
        "error": {**pending_error, "generation_id": "gen_b"},
    }
    batch["data"][2] = {
        **batch["data"][1],
        "index": 2,
        "prompt": "Prompt 3",
        "generation": generation("gen_c", status="queued", image_url=None),
    }
    batch.update(succeeded=1, failed=2, total_cost=0.04)
    server.json(200, batch)

    def job(request: httpx.Request) -> httpx.Response:
        job_id = request.url.path.rsplit("/", 1)[1]
        if job_id == "gen_b":
            return httpx.Response(200, json=generation("gen_b"))
        return httpx.Response(
            200,
            json=generation(
                "gen_c", status="failed", image_url=None, error={"code": "provider_error", "message": "x"}
            ),
        )

    server.fallback = job
    responses = await resolve(
        client.generate_batch(prompts=["Prompt 1", "Prompt 2", "Prompt 3"], model="dall-e-3")
    )
    assert [r.status for r in responses] == ["succeeded", "succeeded", "failed"]
    assert responses[1].image_url and responses[1].error is None
    assert responses[2].error.code == "provider_error" and responses[2].error.generation_id == "gen_c"
    assert isinstance(responses[2].exception, ProviderError)
    assert (responses.succeeded, responses.failed, responses.total_cost) == (2, 1, 0.08)
    assert sorted(r.url.path for r in server.requests[1:]) == [
        "/api/v1/generations/gen_b",
        "/api/v1/generations/gen_c",
    ]
