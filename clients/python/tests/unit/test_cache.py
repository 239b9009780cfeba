"""The result cache, driven by ``clients/spec/conformance.json`` (``cache``): the ``cache`` option
on generate, submit and the five image operations (sent only when set, as JSON or as a multipart
text part; a bad value is an argument error before any request), and the response fields."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import MockServer, generation, load_spec, resolve

SPEC = load_spec()["cache"]
VALUES = SPEC["values"]
MULTIPART = [v for v in VALUES if "multipart" in v]
PNG = base64.b64decode("iVBORw0KGgo=")

# A call of each method in the spec's ``methods``, with its required arguments.
CALLS: dict[str, Any] = {
    "generate": lambda c, **kw: c.generate("a red fox", "stable-image-core", seed=7, **kw),
    "edit": lambda c, **kw: c.edit("paint it teal", "gen_abc", **kw),
    "variation": lambda c, **kw: c.create_variation("gen_abc", **kw),
    "upscale": lambda c, **kw: c.upscale("gen_abc", **kw),
    "remove_background": lambda c, **kw: c.remove_background("gen_abc", **kw),
    "image_to_image": lambda c, **kw: c.image_to_image("a field at dawn", "gen_abc", **kw),
}


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(case["value"]) for case in cases]


def test_the_spec_names_every_method() -> None:
    assert set(SPEC["methods"]) == set(CALLS)


@pytest.mark.parametrize("case", VALUES, ids=_ids(VALUES))
@pytest.mark.parametrize("method", list(CALLS))
async def test_the_option_is_sent_only_when_set(
    client: Any, server: MockServer, method: str, case: dict[str, Any]
) -> None:
    server.json(200, generation("gen_c"))
    await resolve(CALLS[method](client, cache=case["value"]))
    body = json.loads(server.last.content)
    if case["sent"] == "absent":
        assert "cache" not in body
    else:
        assert body["cache"] == case["sent"] and type(body["cache"]) is type(case["sent"])


async def test_submit_sends_the_option(client: Any, server: MockServer) -> None:
    server.json(202, generation("gen_q", status="queued", image_url=None, images=[], cost=None))
    await resolve(client.submit("a red fox", "stable-image-core", seed=7, cache="always"))
    assert json.loads(server.last.content)["cache"] == "always"


@pytest.mark.parametrize("case", MULTIPART, ids=_ids(MULTIPART))
async def test_a_multipart_body_carries_it_as_a_text_part(
    client: Any, server: MockServer, case: dict[str, Any]
) -> None:
    server.json(200, generation("gen_c"))
    await resolve(client.upscale(PNG, cache=case["value"]))
    content = server.last.content
    assert server.last.headers["content-type"].startswith("multipart/form-data")
    assert b'name="cache"\r\n\r\n' + case["multipart"].encode() + b"\r\n" in content


@pytest.mark.parametrize("value", SPEC["invalid_values"])
@pytest.mark.parametrize("method", list(CALLS))
async def test_a_bad_value_is_an_argument_error_before_any_request(
    client: Any, server: MockServer, method: str, value: object
) -> None:
    with pytest.raises(ValueError, match=r"^cache"):
        await resolve(CALLS[method](client, cache=value))
    assert server.requests == []


@pytest.mark.parametrize("case", SPEC["cases"], ids=[c["name"] for c in SPEC["cases"]])
async def test_the_response_fields(client: Any, server: MockServer, case: dict[str, Any]) -> None:
    body = generation("gen_c")
    body.pop("cached", None)
    body.pop("cached_from", None)
    body.update(case["generation"])
    server.json(200, body)
    result = await resolve(client.generate("a red fox", "stable-image-core", seed=7, cache=True))
    got = {name: getattr(result, name) for name in case["expected"]}
    assert got == case["expected"]
    server.json(200, {"object": "list", "data": [body], "has_more": False, "next_cursor": None})
    page = await resolve(client.get_generation_history(limit=1))
    assert page.data[0].cached is case["expected"]["cached"]


async def test_usage_counts_cached_generations(client: Any, server: MockServer) -> None:
    case = SPEC["usage_case"]
    server.json(
        200, {"object": "usage", "start_date": "2026-01-01", "end_date": "2026-01-31", **case["usage"]}
    )
    usage = await resolve(client.get_usage_stats("2026-01-01", "2026-01-31", group_by=SPEC["group_by"]))
    assert server.last.url.params["group_by"] == "cache"
    expected = case["expected"]
    assert (usage.cached_generations, usage.cache_savings) == (
        expected["cached_generations"],
        expected["cache_savings"],
    )
    assert usage.groups is not None
    bucket = usage.groups[0]
    assert (bucket.key, bucket.cached, bucket.cache_savings) == (
        expected["group_key"],
        expected["group_cached"],
        expected["group_cache_savings"],
    )


def test_the_fields_default_when_absent() -> None:
    from freepik_ai_orchestrator import GenerationResponse, UsageBucket, UsageStats

    fields = SPEC["response_fields"]
    for model, name in (
        (GenerationResponse, "generation"),
        (UsageStats, "usage"),
        (UsageBucket, "usage_bucket"),
    ):
        for field, rule in fields[name].items():
            assert model.model_fields[field].default == rule["default"], (model.__name__, field)
