"""/metrics: Prometheus text that parses, counters that move by exactly what happened, labels
that stay bounded whatever callers send, and an endpoint closed to anyone but a scraper's token or
a live admin key."""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import sample_value

pytestmark = pytest.mark.asgi  # the app served in process: no test here needs a socket


@pytest.fixture
async def scraper(server) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a live admin key: the kind of key /metrics serves."""
    async with server.client(await server.create_key(mode="live")) as client:
        yield client


async def scrape(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def succeeded(families: dict[str, Any], model: str) -> float:
    return sample_value(
        families,
        "orchestrator_generations_total",
        model=model,
        provider="offline",
        status="succeeded",
        mode="test",
    )


async def test_generation_counters_move_by_exactly_the_generations_made(
    api: httpx.AsyncClient, scraper: httpx.AsyncClient
) -> None:
    before = await scrape(scraper)
    for prompt in ("one", "two", "three"):
        response = await api.post("/api/v1/generate", json={"prompt": prompt, "model": "dall-e-3"})
        assert response.status_code == 200, response.text
    failed = await api.post("/api/v1/generate", json={"prompt": "x", "model": "no-such-model"})
    assert failed.status_code == 404
    after = await scrape(scraper)

    assert succeeded(after, "dall-e-3") - succeeded(before, "dall-e-3") == 3
    cost = "orchestrator_generation_cost_usd_total"
    spent = sample_value(after, cost, model="dall-e-3", mode="test") - sample_value(
        before, cost, model="dall-e-3", mode="test"
    )
    assert abs(spent - 3 * 0.04) < 1e-9  # dall-e-3, 1024x1024 standard
    requests = "orchestrator_http_requests_total"
    labels = {"method": "POST", "route": "/api/v1/generate"}
    assert (
        sample_value(after, requests, **labels, status="200")
        - sample_value(before, requests, **labels, status="200")
        == 3
    )
    # A refused request is counted under its route template, never as a new label value per path.
    assert (
        sample_value(after, requests, **labels, status="404")
        - sample_value(before, requests, **labels, status="404")
        == 1
    )
    latency = "orchestrator_http_request_duration_seconds_count"
    assert sample_value(after, latency, **labels) - sample_value(before, latency, **labels) == 4
    assert sample_value(after, "orchestrator_jobs_queued") == 0
    assert sample_value(after, "orchestrator_jobs_running") == 0


async def test_canceled_generations_are_counted_once(start_server) -> None:
    server = await start_server(offline_latency_seconds=5.0)
    key = await server.create_key()
    async with server.client(key) as api:
        job = await api.post(
            "/api/v1/generate",
            json={"prompt": "slow", "model": "dall-e-3"},
            headers={"Prefer": "respond-async"},
        )
        assert job.status_code == 202, job.text
        canceled = await api.post(f"/api/v1/generations/{job.json()['id']}/cancel")
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    async with server.client(await server.create_key(mode="live")) as scraper:
        families = await scrape(scraper)
    assert (
        sample_value(
            families, "orchestrator_generations_total", model="dall-e-3", provider="none", status="canceled"
        )
        + sample_value(
            families,
            "orchestrator_generations_total",
            model="dall-e-3",
            provider="offline",
            status="canceled",
        )
        == 1
    )
    assert (
        sample_value(families, "orchestrator_generation_cost_usd_total", model="dall-e-3", mode="test") == 0
    )


async def test_path_ids_never_become_label_values(api: httpx.AsyncClient, scraper: httpx.AsyncClient) -> None:
    for missing in ("gen_AAAA", "gen_BBBB", "gen_CCCC"):
        assert (await api.get(f"/api/v1/generations/{missing}")).status_code == 404
    routes = {
        sample.labels["route"]
        for sample in (await scrape(scraper))["orchestrator_http_requests"].samples
        if sample.name == "orchestrator_http_requests_total"
    }
    assert "/api/v1/generations/{generation_id}" in routes
    assert not any("gen_" in route for route in routes)


async def test_metrics_are_closed_to_anonymous_callers_test_keys_and_non_admins(server) -> None:
    anonymous = server.client()
    async with (
        anonymous,
        server.client(await server.create_key(mode="test")) as test_admin,
        server.client(await server.create_key(mode="live", scopes=("generate", "read"))) as live_user,
        server.client(await server.create_key(mode="live")) as live_admin,
    ):
        refused = await anonymous.get("/metrics")
        assert (
            refused.status_code == 401 and "ORCHESTRATOR_METRICS_TOKEN" in refused.json()["error"]["message"]
        )
        assert "orchestrator_" not in refused.text
        guessed = await anonymous.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert guessed.status_code == 401 and guessed.json()["error"]["code"] == "invalid_metrics_token"
        assert (await test_admin.get("/metrics")).status_code == 403
        assert (await live_user.get("/metrics")).status_code == 403
        served = await live_admin.get("/metrics")
        assert served.status_code == 200 and "orchestrator_http_requests_total" in served.text


async def test_metrics_token_guards_the_endpoint(start_server) -> None:
    server = await start_server(metrics_token="scrape-secret")
    async with server.client() as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "orchestrator_http_requests_total" in right.text


async def test_random_methods_and_paths_leave_the_series_count_bounded(server, scraper) -> None:
    rng = random.Random(18)

    def word(n: int) -> str:
        return "".join(rng.choice(string.ascii_letters) for _ in range(n))

    async def series() -> int:
        text = (await scraper.get("/metrics")).text
        return sum(1 for line in text.splitlines() if line.startswith("orchestrator_http_"))

    async with server.client() as anonymous:
        await anonymous.get("/healthz")  # the one route all the noise below may share with it
        await series()
        before = await series()
        for i in range(300):
            method = word(rng.randint(3, 12)).upper() if i % 2 else rng.choice(["GET", "POST", "BREW"])
            path = f"/{word(8)}/{word(5)}" if i % 3 else f"/api/v1/generations/gen_{word(10)}"
            await anonymous.request(method, path)
        after = await series()
    text = (await scraper.get("/metrics")).text
    methods = {
        family_sample.labels["method"]
        for family in text_string_to_metric_families(text)
        for family_sample in family.samples
        if "method" in family_sample.labels
    }
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    # 300 distinct methods and paths may add a handful of (method, route, status) series, no more.
    assert after - before <= 6 * 20, (before, after)


async def test_no_created_samples_and_reference_assets_under_their_own_route(server, scraper) -> None:
    async with server.client() as anonymous:
        html = (await anonymous.get("/docs")).text
        assert "/docs-assets/swagger-ui.css" in html
        assert (await anonymous.get("/docs-assets/swagger-ui.css")).status_code == 200
    text = (await scraper.get("/metrics")).text
    assert "_created" not in text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert (
        sample_value(
            families,
            "orchestrator_http_requests_total",
            method="GET",
            route="/docs-assets/{path}",
            status="200",
        )
        == 1
    )
