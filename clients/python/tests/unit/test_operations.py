"""The image operations (edit, create_variation, upscale, remove_background, image_to_image) of
both clients, driven by ``clients/spec/conformance.json`` (``operations``): which endpoint, which
body (JSON or multipart), which part carries each input, and the argument errors raised before any
request."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import (
    AsyncOrchestrationClient,
    GenerationResponse,
    GenerationResult,
    OrchestrationClient,
    ProviderError,
)
from tests.support import BASE_URL, MockServer, generation, load_spec, resolve

SPEC = load_spec()["operations"]
METHODS = {m["operation"]: m for m in SPEC["methods"]}
PNG = base64.b64decode("iVBORw0KGgo=")  # the PNG signature, as in the spec's bytes case

# A call of each method with its required arguments, the input given as ``image``.
CALLS: dict[str, Any] = {
    "edit": lambda c, image, **kw: c.edit("paint it teal", image, **kw),
    "variation": lambda c, image, **kw: c.create_variation(image, **kw),
    "upscale": lambda c, image, **kw: c.upscale(image, **kw),
    "remove_background": lambda c, image, **kw: c.remove_background(image, **kw),
    "image_to_image": lambda c, image, **kw: c.image_to_image("a field at dawn", image, **kw),
}


def _parts(request: httpx.Request) -> list[tuple[str, str | None, bytes, str | None]]:
    """A multipart body as ``(field, filename, content, content type)`` in order."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    )
    parts = []
    for part in message.iter_parts():
        disposition = part.get("content-disposition")
        name = disposition.params["name"]
        filename = disposition.params.get("filename")
        payload = part.get_payload(decode=True)
        parts.append((name, filename, payload, part.get("content-type") if filename else None))
    return parts


def _case_input(case: dict[str, Any], tmp_path: Path) -> Any:
    kind, value = case["input"]["kind"], case["input"]["value"]
    if kind in ("id", "url"):
        return value
    if kind == "bytes":
        return base64.b64decode(value)
    assert kind == "path"
    path = tmp_path / value
    path.write_bytes(PNG)
    return str(path)


def test_every_method_has_its_spec_name_on_both_clients() -> None:
    for method in SPEC["methods"]:
        name = method["names"]["python"]
        assert callable(getattr(OrchestrationClient, name)), name
        assert callable(getattr(AsyncOrchestrationClient, name)), name
    assert set(CALLS) == set(METHODS)


@pytest.mark.parametrize("operation", list(METHODS))
async def test_each_method_posts_json_to_its_endpoint(
    client: Any, server: MockServer, operation: str
) -> None:
    server.json(200, generation("gen_op", operation=operation, parents=["gen_abc"]))
    result = await resolve(CALLS[operation](client, "gen_abc", model="some-model", metadata={"run": 1}))
    assert isinstance(result, GenerationResult) and result.operation == operation
    request = server.last
    method, path = METHODS[operation]["endpoint"].split(" ")
    assert (request.method, request.url.path) == (method, path)
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    field = "images" if operation == "edit" else "image"
    assert body[field] == (["gen_abc"] if operation == "edit" else "gen_abc")
    assert body["model"] == "some-model" and body["metadata"] == {"run": 1}
    assert set(body) <= {field, *METHODS[operation]["required"], *METHODS[operation]["optional"]}
    assert request.headers["idempotency-key"] and request.headers["prefer"].startswith("wait=")


@pytest.mark.parametrize("operation", list(METHODS))
def test_every_optional_field_is_a_parameter(operation: str) -> None:
    import inspect

    name = METHODS[operation]["names"]["python"]
    for cls in (OrchestrationClient, AsyncOrchestrationClient):
        params = set(inspect.signature(getattr(cls, name)).parameters)
        spec_fields = {*METHODS[operation]["required"], *METHODS[operation]["optional"]}
        assert spec_fields <= params, spec_fields - params


@pytest.mark.parametrize("case", SPEC["input_cases"], ids=[c["name"] for c in SPEC["input_cases"]])
@pytest.mark.parametrize("operation", ["edit", "upscale"])
async def test_input_cases(
    client: Any, server: MockServer, tmp_path: Path, case: dict[str, Any], operation: str
) -> None:
    server.json(200, generation("gen_op"))
    extra = {"n": 2} if operation == "edit" else {"factor": 2}
    await resolve(CALLS[operation](client, _case_input(case, tmp_path), **extra))
    request = server.last
    field = "images" if operation == "edit" else "image"
    if case["body"] == "json":
        assert request.headers["content-type"] == "application/json"
        sent = json.loads(request.content)[field]
        assert sent == ([case["sent_as"]] if operation == "edit" else case["sent_as"])
        return
    parts = _parts(request)
    files = [p for p in parts if p[1] is not None]
    assert case["sent_as"] == "file" and len(files) == 1
    name, filename, content, content_type = files[0]
    assert name == field and content == PNG and content_type == "image/png"
    if "filename" in case:
        assert filename == case["filename"]
    texts = {p[0]: p[2].decode() for p in parts if p[1] is None}
    # The other fields go as text parts.
    assert texts == ({"prompt": "paint it teal", "n": "2"} if operation == "edit" else {"factor": "2"})


async def test_multipart_keeps_the_order_of_mixed_inputs_and_sends_metadata_as_json(
    client: Any, server: MockServer
) -> None:
    server.json(200, generation("gen_op"))
    mask = io.BytesIO(PNG)
    mask.name = "/somewhere/mask.png"
    await resolve(
        client.edit(
            "a yellow sun",
            [PNG, "gen_abc:2", "https://example.com/cat.png"],
            mask=mask,
            model="gpt-image-1",
            output_compression=80,
            metadata={"campaign": "summer", "n": 2},
            extra_body={"future_field": True},
        )
    )
    parts = _parts(server.last)
    inputs = [(n, f, c) for n, f, c, _ in parts if n in ("images", "mask")]
    assert inputs == [
        ("images", "image.png", PNG),
        ("images", None, b"gen_abc:2"),
        ("images", None, b"https://example.com/cat.png"),
        ("mask", "mask.png", PNG),
    ]
    texts = {n: c.decode() for n, f, c, _ in parts if f is None and n not in ("images", "mask")}
    assert texts["model"] == "gpt-image-1" and texts["output_compression"] == "80"
    assert json.loads(texts["metadata"]) == {"campaign": "summer", "n": 2}
    assert texts["future_field"] == "true"


async def test_a_path_object_and_an_open_file_are_read(
    client: Any, server: MockServer, tmp_path: Path
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0jpeg")
    server.json(200, generation("gen_a")).json(200, generation("gen_b"))
    await resolve(client.remove_background(path))
    assert [(n, f, t) for n, f, _, t in _parts(server.requests[0])] == [("image", "photo.jpg", "image/jpeg")]
    with path.open("rb") as file:
        await resolve(client.create_variation(file, n=2))
    parts = _parts(server.requests[1])
    assert ("image", "photo.jpg", b"\xff\xd8\xff\xe0jpeg", "image/jpeg") in parts
    assert ("n", None, b"2", None) in parts


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda c, tmp: c.edit("paint", []), ValueError, "images"),
        (lambda c, tmp: c.edit("   ", "gen_abc"), ValueError, "prompt"),
        (lambda c, tmp: c.edit("", ["gen_abc"]), ValueError, "prompt"),
        (lambda c, tmp: c.edit(None, "gen_abc"), TypeError, "prompt"),
        (lambda c, tmp: c.image_to_image(" ", "gen_abc"), ValueError, "prompt"),
        (lambda c, tmp: c.edit("paint", ["gen_abc", 42]), TypeError, "images[1]"),
        (lambda c, tmp: c.edit("paint", "gen_abc", mask=3.5), TypeError, "mask"),
        (lambda c, tmp: c.upscale(42), TypeError, "image"),
        (lambda c, tmp: c.upscale(None), ValueError, "image"),
        (lambda c, tmp: c.upscale(["gen_a", "gen_b"]), TypeError, "image"),
        (lambda c, tmp: c.upscale(str(tmp / "missing.png")), ValueError, "image"),
        (lambda c, tmp: c.remove_background(tmp / "missing.png"), ValueError, "image"),
        (lambda c, tmp: c.create_variation(b""), ValueError, "image"),
        (lambda c, tmp: c.create_variation(""), ValueError, "image"),
        (lambda c, tmp: c.create_variation(io.StringIO("text")), TypeError, "image"),
    ],
)
async def test_argument_errors_name_the_field_before_any_request(
    client: Any, server: MockServer, tmp_path: Path, call: Any, error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as info:
        await resolve(call(client, tmp_path))
    assert str(info.value).startswith(field)
    assert server.requests == []


async def test_wait_false_returns_the_queued_job(client: Any, server: MockServer) -> None:
    server.json(202, generation("gen_q", status="queued", image_url=None, images=[], cost=None))
    job = await resolve(client.upscale(PNG, factor=2, wait=False, idempotency_key="idem-1"))
    assert type(job) is GenerationResponse and job.status == "queued"
    assert server.last.headers["prefer"] == "respond-async"
    assert server.last.headers["idempotency-key"] == "idem-1"


async def test_a_202_is_waited_for_and_a_failure_raises(client: Any, server: MockServer) -> None:
    server.json(202, generation("gen_w", status="running", image_url=None, images=[], cost=None))
    server.json(200, generation("gen_w", status="succeeded", operation="image_to_image"))
    result = await resolve(client.image_to_image("a field", "gen_abc", strength=0.4))
    assert isinstance(result, GenerationResult) and result.id == "gen_w"
    assert [r.url.path for r in server.requests] == [
        "/api/v1/images/image-to-image",
        "/api/v1/generations/gen_w",
    ]
    assert json.loads(server.requests[0].content)["strength"] == 0.4

    failed = generation(
        "gen_f", status="failed", image_url=None, images=[], error={"code": "provider_error", "message": "x"}
    )
    server.json(200, failed)
    with pytest.raises(ProviderError) as info:
        await resolve(client.remove_background("gen_abc"))
    assert info.value.generation_id == "gen_f"


async def test_a_retried_multipart_post_sends_the_same_body_and_key(client: Any, server: MockServer) -> None:
    server.json(503, {"error": {"type": "api_error", "code": "service_unavailable", "message": "busy"}})
    server.json(200, generation("gen_r"))
    await resolve(client.edit("paint", [PNG], size="256x256"))
    first, second = server.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert _parts(first) == _parts(second)
    assert ("images", "image.png", PNG, "image/png") in _parts(second)


async def test_raw_response_of_an_operation(client: Any, server: MockServer) -> None:
    server.json(200, generation("gen_raw"), headers={"X-Request-ID": "req_op"})
    raw = await resolve(client.with_raw_response.upscale("gen_abc", factor=4))
    assert raw.status_code == 200 and raw.request_id == "req_op"
    assert raw.parse().id == "gen_raw" and raw.url.path == "/api/v1/images/upscale"
    assert BASE_URL in str(raw.url)
