"""What a caller sends is checked before anything is stored or charged; stored rows never break reads."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket

TODAY = date.today()
RANGE = {"start_date": str(TODAY - timedelta(days=1)), "end_date": str(TODAY + timedelta(days=1))}
GEN = {"prompt": "a quiet harbour", "model": "dall-e-3"}
JSON = {"content-type": "application/json"}


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def _nothing_stored_or_charged(api: httpx.AsyncClient) -> None:
    history = await api.get("/api/v1/generations")
    assert history.status_code == 200 and history.json()["data"] == []
    usage = (await api.get("/api/v1/usage", params=RANGE)).json()
    assert usage["total_generations"] == 0 and usage["total_cost"] == 0


async def _project_still_answers(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/generations")).status_code == 200
    assert (await api.get("/api/v1/generations", params={"metadata.team": "x"})).status_code == 200
    grouped = await api.get("/api/v1/usage", params=RANGE | {"group_by": "metadata.team"})
    assert grouped.status_code == 200


def _refused(response: httpx.Response, param: str, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    return error


async def test_metadata_nested_too_deep_is_refused_before_it_is_stored(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/generate", json=GEN | {"metadata": _nested(5)})).status_code == 200
    history = (await api.get("/api/v1/generations")).json()["data"]
    for depth in (6, 300):
        response = await api.post("/api/v1/generate", json=GEN | {"metadata": _nested(depth)})
        error = _refused(response, "metadata")
        assert "5 levels" in error["message"]
    assert (await api.get("/api/v1/generations")).json()["data"] == history
    await _project_still_answers(api)


async def test_metadata_over_16_kb_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/generate", json=GEN | {"metadata": {"a": "x" * 17_000}})
    error = _refused(response, "metadata")
    assert "16384" in error["message"]
    await _nothing_stored_or_charged(api)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_metadata_numbers_must_be_finite(api: httpx.AsyncClient, literal: str) -> None:
    body = '{"prompt": "a quiet harbour", "model": "dall-e-3", "metadata": {"team": ' + literal + "}}"
    response = await api.post("/api/v1/generate", content=body, headers=JSON)
    assert "finite" in _refused(response, "metadata")["message"]
    await _nothing_stored_or_charged(api)
    await _project_still_answers(api)


@pytest.mark.parametrize(
    "body",
    [
        GEN | {"prompt": "a\x00b"},
        GEN | {"model": "dall-e-3\x00"},
        GEN | {"negative_prompt": "\x00"},
        GEN | {"metadata": {"team": "x\x00y"}},
        GEN | {"metadata": {"te\x00am": "x"}},
    ],
    ids=["prompt", "model", "negative_prompt", "metadata-value", "metadata-key"],
)
async def test_nul_in_any_text_of_a_generation_is_refused(api: httpx.AsyncClient, body: dict) -> None:
    response = await api.post("/api/v1/generate", json=body)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["error"]["message"]
    await _nothing_stored_or_charged(api)


async def test_lone_surrogates_are_refused(api: httpx.AsyncClient) -> None:
    body = '{"prompt": "a \\ud800 harbour", "model": "dall-e-3"}'
    response = await api.post("/api/v1/generate", content=body, headers=JSON)
    _refused(response, "prompt")


async def test_nul_in_query_and_path_parameters(api: httpx.AsyncClient) -> None:
    for name in ("cursor", "q", "model", "batch_id"):
        _refused(await api.get("/api/v1/generations", params={name: "a\x00"}), name)
    _refused(await api.get("/api/v1/generations", params={"metadata.team": "a\x00"}), "metadata.team")
    _refused(await api.get("/api/v1/generations", params={'metadata.te"am': "a"}), 'metadata.te"am')
    for path in ("/api/v1/generations/gen_%00", "/api/v1/generations/gen_%00/cancel"):
        method = "POST" if path.endswith("cancel") else "GET"
        assert (await api.request(method, path)).status_code == 404
    assert (await api.delete("/api/v1/keys/key_%00")).status_code == 404
    _refused(await api.post("/api/v1/keys", json={"name": "ci\x00"}), "name")


@pytest.mark.parametrize("value", ["2", True, 2.0])
async def test_integers_are_not_coerced(api: httpx.AsyncClient, value: object) -> None:
    _refused(await api.post("/api/v1/generate", json=GEN | {"n": value}), "n")
    batch = {**GEN, "prompts": ["a"], "batch_size": value}
    _refused(await api.post("/api/v1/generate/batch", json=batch), "batch_size")
    await _nothing_stored_or_charged(api)


async def test_blank_batch_prompts_are_refused(api: httpx.AsyncClient) -> None:
    body = {"model": "dall-e-3", "prompts": ["a cat", "   "]}
    _refused(await api.post("/api/v1/generate/batch", json=body), "prompts.1")
    await _nothing_stored_or_charged(api)


async def test_far_dates_are_clamped_not_crashed_on(api: httpx.AsyncClient) -> None:
    made = (await api.post("/api/v1/generate", json=GEN)).json()
    cases = [
        ({"until": "9999-12-31T23:59:59-14:00"}, [made["id"]]),
        ({"since": "0001-01-01T00:00:00+14:00"}, [made["id"]]),
        ({"since": "9999-12-31T23:59:59-14:00"}, []),
        ({"until": "0001-01-01T00:00:00+14:00"}, []),
    ]
    for params, expected in cases:
        response = await api.get("/api/v1/generations", params=params)
        assert response.status_code == 200, (params, response.text)
        assert [g["id"] for g in response.json()["data"]] == expected
    far = await api.get("/api/v1/usage", params={"start_date": "9999-01-01", "end_date": "9999-12-31"})
    assert far.status_code == 200 and far.json()["total_generations"] == 0
    too_long = {"start_date": "2020-01-01", "end_date": "9999-12-31"}
    _refused(await api.get("/api/v1/usage", params=too_long), "end_date")


@pytest.mark.parametrize("budget", ["1e300", "Infinity", "NaN", "-1", '"5"'])
async def test_key_budgets_are_finite_capped_numbers(api: httpx.AsyncClient, budget: str) -> None:
    body = '{"name": "ci", "mode": "test", "monthly_budget": ' + budget + "}"
    response = await api.post("/api/v1/keys", content=body, headers=JSON)
    _refused(response, "monthly_budget")


async def test_history_limit_cap_is_enforced_and_declared(api: httpx.AsyncClient) -> None:
    _refused(await api.get("/api/v1/generations", params={"limit": 101}), "limit")
    spec = (await api.get("/openapi.json")).json()
    limit = next(p for p in spec["paths"]["/api/v1/generations"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 100


async def test_unparsable_bodies_are_400_or_422_and_declared(api: httpx.AsyncClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for body in ("{not json", deep):
        response = await api.post("/api/v1/generate", content=body, headers=JSON)
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["type"] == "invalid_request_error" or response.status_code == 400
    spec = (await api.get("/openapi.json")).json()
    assert "400" in spec["paths"]["/api/v1/generate"]["post"]["responses"]


async def test_wrong_method_names_the_allowed_ones(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/v1/generations")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def _poison(server, generation_id: str, dialect: str) -> None:
    """Store metadata no request can create any more, straight into the row."""
    if dialect == "sqlite":
        raw = '{"team": NaN, "deep": ' + json.dumps(_nested(300)) + "}"
        sql = "UPDATE generations SET metadata = :raw WHERE id = :id"
    else:
        raw = '{"team": "x\\u0000y", "deep": ' + json.dumps(_nested(300)) + "}"
        sql = "UPDATE generations SET metadata = CAST(:raw AS json) WHERE id = :id"

    async def work(session) -> None:
        await session.execute(text(sql), {"raw": raw, "id": generation_id})

    await server.app.state.services.db.transaction(work)


async def test_history_and_filters_tolerate_any_stored_metadata(server, api: httpx.AsyncClient) -> None:
    poisoned = (await api.post("/api/v1/generate", json=GEN | {"metadata": {"team": "a"}})).json()
    healthy = (await api.post("/api/v1/generate", json=GEN | {"metadata": {"team": "b"}})).json()
    dialect = "sqlite" if server.settings.is_sqlite else "postgresql"
    await _poison(server, poisoned["id"], dialect)

    page = await api.get("/api/v1/generations")
    assert page.status_code == 200, page.text
    assert [g["id"] for g in page.json()["data"]] == [healthy["id"], poisoned["id"]]
    one = await api.get(f"/api/v1/generations/{poisoned['id']}")
    assert one.status_code == 200, one.text
    meta = one.json()["metadata"]
    assert meta["team"] in (None, "xy")  # NaN becomes null; NUL is dropped
    depth, node = 0, meta["deep"]
    while isinstance(node, dict):
        depth, node = depth + 1, node.get("a")
    assert depth < 40  # rendered, but not 300 levels deep

    filtered = await api.get("/api/v1/generations", params={"metadata.team": "b"})
    assert filtered.status_code == 200 and [g["id"] for g in filtered.json()["data"]] == [healthy["id"]]
    usage = await api.get("/api/v1/usage", params=RANGE | {"group_by": "metadata.team"})
    assert usage.status_code == 200, usage.text
    assert {b["key"] for b in usage.json()["groups"]} == {"b", "(none)"}
    # Text that merely looks like an escape (a backslash, then "u0000") is ordinary data.
    lookalike = (await api.post("/api/v1/generate", json=GEN | {"metadata": {"team": "c\\u0000"}})).json()
    found = await api.get("/api/v1/generations", params={"metadata.team": "c\\u0000"})
    assert [g["id"] for g in found.json()["data"]] == [lookalike["id"]]


async def test_odd_prefer_header_values_are_ignored(api: httpx.AsyncClient) -> None:
    for prefer in (b"wait=\xb2", b"wait=" + b"9" * 400, b"respond-async, wait=-1"):
        response = await api.post("/api/v1/generate", json=GEN, headers={"Prefer": prefer})
        assert response.status_code in (200, 202), response.text


async def test_nul_is_refused_through_the_openai_compatible_door_too(api: httpx.AsyncClient) -> None:
    for body in (
        {"prompt": "a\x00b"},
        {"prompt": "a cat", "user": "u\x00"},
        {"prompt": "a cat", "model": "\x00"},
    ):
        response = await api.post("/v1/images/generations", json=body)
        assert response.status_code == 400, response.text  # OpenAI's status for invalid requests
    await _nothing_stored_or_charged(api)
