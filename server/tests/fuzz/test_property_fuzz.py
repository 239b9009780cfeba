"""Property-based fuzzing of the request bodies and query parameters against a real served app.

Whatever is sent: no 500, every error is the envelope, and after every write the project's
history, filters and usage still answer 200. Derandomized (a fixed seed) and bounded, so the run
is repeatable and quick; ``ORCHESTRATOR_FUZZ_EXAMPLES`` raises the budget for a deeper run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import cli_env, run_cli

EXAMPLES = int(os.environ.get("ORCHESTRATOR_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TODAY = date.today()
RANGE = {"start_date": str(TODAY - timedelta(days=1)), "end_date": str(TODAY + timedelta(days=1))}

# Any text, including NUL, control characters and lone surrogates (sent as JSON escapes).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
hostile_text = st.one_of(
    any_text,
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "é", "'\"", "%00", "\r\n", "x" * 5000]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=20,
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


metadata = st.one_of(
    st.dictionaries(hostile_text, json_values, max_size=6),
    st.integers(min_value=1, max_value=400).map(_nested),
    st.builds(lambda n: {"big": "x" * n}, st.integers(min_value=0, max_value=40_000)),
    json_values,
)
maybe = st.one_of  # readability: maybe(st.just(...), ...)
MODELS = ["dall-e-3", "dall-e-2", "flux-schnell", "flux-dev", "sdxl"]


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts holding any subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


generation_fields = {
    "model": maybe(st.sampled_from(MODELS), hostile_text, numbers),
    "style": maybe(st.none(), st.sampled_from(["photorealistic", "vivid", "anime"]), hostile_text),
    "size": maybe(st.none(), st.sampled_from(["1024x1024", "512x512", "1792x1024"]), hostile_text),
    "quality": maybe(st.none(), st.sampled_from(["standard", "hd"]), hostile_text),
    "n": maybe(st.integers(min_value=-2, max_value=6), st.booleans(), hostile_text, numbers),
    "seed": maybe(st.none(), st.integers(min_value=-1, max_value=2**33), hostile_text),
    "negative_prompt": maybe(st.none(), hostile_text),
    "metadata": metadata,
}
generate_bodies = st.one_of(
    _optional(prompt=maybe(st.just("a quiet harbour"), hostile_text, numbers), **generation_fields),
    st.builds(
        lambda extra: {"prompt": "a quiet harbour", "model": "flux-schnell"} | extra,
        _optional(**generation_fields),
    ),
    json_values,
)
batch_bodies = st.builds(
    lambda prompts, extra: {"prompts": prompts, "model": "flux-schnell"} | extra,
    maybe(st.lists(maybe(st.just("a red bicycle"), hostile_text), max_size=3), hostile_text),
    _optional(
        batch_size=maybe(st.integers(min_value=-1, max_value=20), st.booleans(), hostile_text),
        **generation_fields,
    ),
)
openai_bodies = st.one_of(
    _optional(
        prompt=maybe(st.just("a quiet harbour"), hostile_text, numbers),
        model=maybe(st.sampled_from(MODELS), hostile_text),
        n=maybe(st.integers(min_value=-1, max_value=5), hostile_text, st.booleans()),
        size=maybe(st.none(), st.sampled_from(["auto", "1024x1024"]), hostile_text),
        quality=maybe(st.none(), st.sampled_from(["auto", "standard", "hd"]), hostile_text),
        response_format=maybe(st.sampled_from(["url", "b64_json"]), hostile_text),
        user=maybe(st.none(), hostile_text),
    ),
    json_values,
)
key_bodies = _optional(
    name=maybe(st.just("ci"), hostile_text),
    mode=maybe(st.sampled_from(["test", "live"]), hostile_text),
    scopes=maybe(st.lists(st.sampled_from(["generate", "read", "admin", "root"]), max_size=3), hostile_text),
    rate_limit_per_minute=maybe(
        st.none(), st.integers(min_value=-1, max_value=2_000_000), numbers, hostile_text
    ),
    max_concurrent=maybe(st.none(), st.integers(min_value=-1, max_value=20_000), numbers, hostile_text),
    monthly_budget=maybe(st.none(), numbers, hostile_text),
)
instants = maybe(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31", "0001-01-01"]),
    hostile_text,
)
history_params = _optional(
    limit=maybe(st.integers(min_value=-5, max_value=200), hostile_text),
    cursor=hostile_text,
    model=maybe(st.sampled_from(MODELS), hostile_text),
    status=maybe(st.sampled_from(["queued", "succeeded", "failed"]), hostile_text),
    since=instants,
    until=instants,
    q=hostile_text,
    batch_id=hostile_text,
)
metadata_filters = st.dictionaries(hostile_text.map(lambda k: "metadata." + k), hostile_text, max_size=2)
days = maybe(
    st.dates().map(str),
    st.sampled_from(["9999-12-31", "0001-01-01", str(TODAY)]),
    hostile_text,
)
usage_params = _optional(
    start_date=days,
    end_date=days,
    group_by=maybe(
        st.sampled_from(["model", "day", "key", "metadata.team"]), hostile_text.map(lambda k: "metadata." + k)
    ),
)


def _encode(body: Any) -> bytes:
    # allow_nan: NaN and Infinity go out as the bare literals a hostile client would send.
    return json.dumps(body, allow_nan=True).encode()


def _query_safe(params: dict[str, str]) -> dict[str, str]:
    # httpx cannot put lone surrogates on the wire; anything else (NUL included) is percent-encoded.
    return {
        k.encode("utf-8", "replace").decode(): v.encode("utf-8", "replace").decode()
        for k, v in ((str(k), str(v)) for k, v in params.items())
    }


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert {"type", "code", "message", "param", "request_id"} <= error.keys(), error


def _project_still_answers(client: httpx.Client, created: list[str]) -> None:
    for params in ({}, {"metadata.team": "a"}):
        response = client.get("/api/v1/generations", params=params)
        assert response.status_code == 200, (params, response.text)
    response = client.get("/api/v1/usage", params=RANGE | {"group_by": "metadata.team"})
    assert response.status_code == 200, response.text
    for generation_id in created[-1:]:
        response = client.get(f"/api/v1/generations/{generation_id}")
        assert response.status_code == 200, response.text


@pytest.fixture
def client(serve_process, tmp_path, database_url) -> Iterator[httpx.Client]:
    """One served app (a real process) and a test key for the whole fuzz run."""
    _, url = serve_process(ORCHESTRATOR_DEFAULT_RATE_LIMIT_PER_MINUTE="100000000")
    env = cli_env(tmp_path / "data", database_url)
    args = ["keys", "create", "--name", "fuzz", "--mode", "test", "--scopes", "generate", "read", "admin"]
    key = run_cli([*args, "--json"], env)["key"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        yield client


def _fuzz_generations(client: httpx.Client) -> None:
    created: list[str] = []

    @FUZZ
    @given(body=generate_bodies, prefer=st.sampled_from([None, "respond-async"]))
    def run(body: Any, prefer: str | None) -> None:
        headers = {"content-type": "application/json"} | ({"Prefer": prefer} if prefer else {})
        response = client.post("/api/v1/generate", content=_encode(body), headers=headers)
        _check(response)
        if response.status_code in (200, 202):
            created.append(response.json()["id"])
        _project_still_answers(client, created)

    run()
    assert created, "the fuzzer never produced a valid generation: widen the strategies"


def _fuzz_batches_openai_and_keys(client: httpx.Client) -> None:
    @FUZZ
    @given(batch=batch_bodies, openai=openai_bodies, key=key_bodies)
    def run(batch: Any, openai: Any, key: Any) -> None:
        headers = {"content-type": "application/json"}
        _check(client.post("/api/v1/generate/batch", content=_encode(batch), headers=headers))
        _check(client.post("/v1/images/generations", content=_encode(openai), headers=headers))
        created = client.post("/api/v1/keys", content=_encode(key), headers=headers)
        _check(created)
        if created.status_code == 201:
            assert created.json()["mode"] == "test"  # a test key never mints a live one
        _project_still_answers(client, [])

    run()


def _fuzz_query_parameters(client: httpx.Client) -> None:
    @FUZZ
    @given(history=history_params, filters=metadata_filters, usage=usage_params, some_id=hostile_text)
    def run(history: dict[str, Any], filters: dict[str, str], usage: dict[str, Any], some_id: str) -> None:
        _check(client.get("/api/v1/generations", params=_query_safe(history | filters)))
        _check(client.get("/api/v1/usage", params=_query_safe(usage)))
        segment = quote(some_id.encode("utf-8", "replace"), safe="")  # NUL goes out as %00
        for path in (f"/api/v1/generations/{segment}", f"/api/v1/models/{segment}"):
            _check(client.get(path))
        _check(client.delete(f"/api/v1/keys/{segment}"))

    run()


@pytest.mark.timeout(600)  # a bounded budget of examples, about a minute on a quiet machine
def test_fuzzed_requests_never_fail_or_poison_the_project(client: httpx.Client) -> None:
    _fuzz_generations(client)
    _fuzz_batches_openai_and_keys(client)
    _fuzz_query_parameters(client)
