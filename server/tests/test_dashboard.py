"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

Screenshots go to ``ORCHESTRATOR_TEST_ARTIFACTS`` (default ``server/test-artifacts``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("ORCHESTRATOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("ORCHESTRATOR_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_present() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


@pytest.fixture
async def browser_page() -> AsyncIterator[tuple[Any, list[str]]]:
    if not chromium_present():
        message = f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1360, "height": 900})
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            yield page, problems
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


async def test_dashboard_gallery_usage_and_keys_in_a_real_browser(start_server, browser_page) -> None:
    page, problems = browser_page
    server = await start_server()
    key = await server.create_key()
    async with server.client(key) as api:
        for prompt, model in (
            ("a lighthouse at dawn", "dall-e-3"),
            ("a fox in the snow", "dall-e-3"),
            ("a neon city street", "stable-diffusion"),
        ):
            response = await api.post(
                "/api/v1/generate", json={"prompt": prompt, "model": model, "metadata": {"suite": "ui"}}
            )
            assert response.status_code == 200, response.text
        today = date.today().isoformat()
        month_start = date.today().replace(day=1).isoformat()
        usage = (await api.get("/api/v1/usage", params={"start_date": month_start, "end_date": today})).json()

    page_response = await page.goto(f"{server.url}/dashboard")
    assert page_response is not None and page_response.status == 200
    csp = page_response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    # Sign in: the key lives in sessionStorage only.
    await page.fill("#signin-key", key)
    await page.click("#signin-form button[type=submit]")
    await page.wait_for_selector("#gallery-grid[data-loaded=true]", state="attached")
    assert await page.evaluate("sessionStorage.getItem('orchestrator.apiKey')") == key
    assert await page.evaluate("document.cookie") == ""

    # Gallery: three thumbnails that really load.
    tiles = page.locator("#gallery-grid .tile")
    await tiles.nth(2).wait_for()
    assert await tiles.count() == 3
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery-grid img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    await shot(page, "gallery")

    # Filter by model.
    await page.select_option("#gallery-filters select[name=model]", "dall-e-3")
    await page.click("#gallery-filters button[type=submit]")
    await page.wait_for_function("() => document.querySelectorAll('#gallery-grid .tile').length === 2")
    models = await tiles.evaluate_all("nodes => nodes.map(n => n.dataset.model)")
    assert models == ["dall-e-3", "dall-e-3"]

    # Open one: the full image with its prompt, cost and provider.
    await tiles.first.click()
    await page.wait_for_selector("#detail[open] img.full")
    await page.wait_for_function(
        "() => { const i = document.querySelector('#detail img.full');"
        " return i.complete && i.naturalWidth > 0 }"
    )
    facts = await page.inner_text("#detail-facts")
    assert "a fox in the snow" in facts and "offline" in facts and "$0.0400" in facts
    await shot(page, "detail")
    await page.keyboard.press("Escape")

    # Usage: the chart's total equals /api/v1/usage.
    await page.click("#nav a[data-view=usage]")
    await page.wait_for_selector("#view-usage[data-loaded=true]", state="attached")
    shown_cost = float(await page.get_attribute("#usage-total-cost", "data-value") or "nan")
    chart_cost = float(await page.get_attribute("#chart-cost-day", "data-total") or "nan")
    chart_count = float(await page.get_attribute("#chart-count-model", "data-total") or "nan")
    assert shown_cost == pytest.approx(usage["total_cost"])
    assert chart_cost == pytest.approx(usage["total_cost"])
    assert chart_count == usage["total_generations"] == 3
    await shot(page, "usage")

    # Models: availability is visible.
    await page.click("#nav a[data-view=models]")
    await page.wait_for_selector("#models-table tr[data-model='dall-e-3']")
    await shot(page, "models")

    # Keys: create one (secret shown once), then revoke it.
    await page.click("#nav a[data-view=keys]")
    await page.wait_for_selector("#keys-table[data-loaded=true]", state="attached")
    await page.fill("#key-create input[name=name]", "made-in-the-ui")
    await page.click("#key-create button[type=submit]")
    await page.wait_for_selector("#key-secret:not([hidden])")
    secret = (await page.inner_text("#key-secret-value")).strip()
    assert secret.startswith("sk-test-")
    row = page.locator("#keys-table tr[data-name='made-in-the-ui']")
    await row.wait_for()
    await shot(page, "keys")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}) as made:
        assert (await made.get("/api/v1/models")).status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        await row.locator("button.revoke").click()
        await page.wait_for_selector("#keys-table tr[data-name='made-in-the-ui'] td.state.bad")
        assert (await made.get("/api/v1/models")).status_code == 401

    assert not problems, problems


async def test_dashboard_live_jobs_follow_server_sent_events(start_server, browser_page) -> None:
    page, problems = browser_page
    server = await start_server(offline_latency_seconds=5.0)
    key = await server.create_key()
    await page.goto(f"{server.url}/dashboard")
    await page.fill("#signin-key", key)
    await page.click("#signin-form button[type=submit]")
    await page.wait_for_selector("#gallery-grid[data-loaded=true]", state="attached")
    await page.click("#nav a[data-view=live]")
    await page.wait_for_selector("#view-live[data-loaded=true]", state="attached")
    async with server.client(key) as api:
        job = await api.post(
            "/api/v1/generate",
            json={"prompt": "a slow watercolour", "model": "dall-e-3"},
            headers={"Prefer": "respond-async"},
        )
        assert job.status_code == 202
    job_id = job.json()["id"]
    await page.wait_for_selector(f"#live-table tr[data-id='{job_id}']", timeout=10_000)
    # The row reaches its final state through the event stream.
    await page.wait_for_selector(f"#live-table tr[data-id='{job_id}'][data-status=succeeded]", timeout=15_000)
    await shot(page, "live")
    assert not problems, problems


async def test_dashboard_assets_are_served_by_the_app(server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/dashboard")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        for asset, kind in (("app.js", "javascript"), ("app.css", "css"), ("favicon.svg", "svg")):
            assert f"/dashboard/static/{asset}" in page.text
            response = await client.get(f"/dashboard/static/{asset}")
            assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "http://" not in page.text.replace(server.url, "") and "https://" not in page.text
        assert (await client.get("/dashboard/static/..%2Froutes.py")).status_code == 404
        assert (await client.get("/dashboard/static/secret.key")).status_code == 404
