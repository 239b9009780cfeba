"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

The main journeys run at a phone (390 px), a tablet (768 px) and a desktop (1400 px) width, in one
browser for the module. On every page: no horizontal scroll, no console or CSP error, and axe-core
(from npm, ``server/tests/browser``) finds no serious or critical violation. Screenshots of each
page at each width go to ``ORCHESTRATOR_TEST_ARTIFACTS`` (default ``server/test-artifacts``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_receiver import webhook_receiver

CHROMIUM = os.environ.get("ORCHESTRATOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("ORCHESTRATOR_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
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
WIDTHS = [390, 768, 1400]
STEP = 15_000  # ms: the longest any one step may take


def _require(present: bool, message: str) -> None:
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium_present() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """One Chromium for the whole module; each test opens its own context (pages are cheap)."""
    _require(chromium_present(), f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Tab:
    """A page at one width, with every console error, page error and CSP report it produced."""

    page: Any
    width: int
    problems: list[str] = field(default_factory=list)
    downloads: Path = Path()

    async def settle(self, name: str, *, full_page: bool = True) -> None:
        """The page's checks: no horizontal overflow, no axe violation, a screenshot."""
        await self.page.wait_for_load_state("load")
        os.makedirs(ARTIFACTS, exist_ok=True)
        await self.page.screenshot(
            path=str(ARTIFACTS / f"dashboard-{name}-{self.width}.png"), full_page=full_page
        )
        overflow = await self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth,"
            " [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
            ".slice(-3).map(e => e.tagName + '#' + e.id + '.' + e.className)]"
        )
        assert overflow[0] <= overflow[1], f"{name} at {self.width}px scrolls sideways: {overflow}"
        # An open dialog scrolls on its own: it must not scroll sideways either.
        inside = await self.page.evaluate(
            "() => [...document.querySelectorAll('dialog[open]')]"
            ".map(d => [d.id, d.scrollWidth, d.clientWidth, [...d.querySelectorAll('*')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth)"
            ".slice(-3).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + e.scrollWidth)])"
            ".filter(([, scroll, client]) => scroll > client)"
        )
        assert inside == [], f"{name} at {self.width}px: a dialog scrolls sideways: {inside}"
        await check_axe(self.page, f"{name} at {self.width}px")


async def open_tab(browser: Any, width: int, tmp_path: Path) -> Tab:
    context = await browser.new_context(
        viewport={"width": width, "height": 900 if width > 600 else 844}, accept_downloads=True
    )
    context.set_default_timeout(STEP)
    page = await context.new_page()
    tab = Tab(page=page, width=width, downloads=tmp_path)
    page.on("console", lambda msg: tab.problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: tab.problems.append(str(exc)))
    return tab


async def check_axe(page: Any, where: str) -> None:
    """axe-core's serious and critical violations on the page as it is now: there must be none."""
    _require(AXE.exists(), f"axe-core missing at {AXE} (make test runs npm ci in server/tests/browser)")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') still holds
        # for everything the page itself loads.
        await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    assert result == [], f"axe at {where}: {json.dumps(result)}"


async def sign_in(tab: Tab, url: str, key: str) -> None:
    response = await tab.page.goto(f"{url}/dashboard")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    await tab.settle("signin")
    await tab.page.fill("#signin-key", key)
    await tab.page.click("#signin-form button[type=submit]")
    await tab.page.wait_for_selector("#gallery-grid[data-loaded=true]", state="attached")
    assert await tab.page.evaluate("sessionStorage.getItem('orchestrator.apiKey')") == key
    assert await tab.page.evaluate("document.cookie") == ""


async def go(tab: Tab, view: str) -> None:
    """Navigate as a user would: through the menu button on narrow screens."""
    page = tab.page
    if await page.is_visible("#nav-toggle"):
        await page.click("#nav-toggle")
        assert await page.get_attribute("#nav-toggle", "aria-expanded") == "true"
    await page.click(f"#nav a[data-view={view}]")
    await page.wait_for_selector(f"#view-{view}:not([hidden])")


async def all_images_loaded(page: Any, selector: str) -> None:
    await page.wait_for_function(
        "sel => { const imgs = [...document.querySelectorAll(sel)];"
        " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0) }",
        arg=selector,
    )


async def select_tiles(page: Any, ids: list[str]) -> None:
    if await page.get_attribute("#select-toggle", "aria-pressed") != "true":
        await page.click("#select-toggle")
    for generation_id in ids:
        await page.check(f"#gallery-grid .tile[data-id='{generation_id}'] .pick input")


async def clear_selection(page: Any) -> None:
    if await page.get_attribute("#select-toggle", "aria-pressed") == "true":
        await page.click("#select-toggle")


SEEDS = (
    ("a lighthouse at dawn", "dall-e-3", None),
    ("a fox in the snow", "flux-schnell", 42),
    ("a neon city street", "stable-diffusion", 7),
    ("a paper boat on a pond", "dall-e-3", None),
)


@pytest.mark.parametrize("width", WIDTHS)
async def test_dashboard_journeys(start_server, browser, tmp_path, width: int) -> None:
    server = await start_server(webhook_allow_private_targets=True, webhook_retry_base_seconds=0.2)
    key = await server.create_key()
    api = server.client(key)
    made: dict[str, dict[str, Any]] = {}
    for prompt, model, seed in SEEDS:
        body: dict[str, Any] = {"prompt": prompt, "model": model, "metadata": {"suite": "ui"}}
        if seed is not None:
            body["seed"] = seed
        response = await api.post("/api/v1/generate", json=body)
        assert response.status_code == 200, response.text
        made[prompt] = response.json()
    fox, neon = made["a fox in the snow"], made["a neon city street"]
    tab = await open_tab(browser, width, tmp_path)
    page = tab.page
    try:
        # Sign in; the gallery shows every image, whole (contain, not cropped).
        await sign_in(tab, server.url, key)
        tiles = page.locator("#gallery-grid .tile")
        await tiles.nth(len(SEEDS) - 1).wait_for()
        assert await tiles.count() == len(SEEDS)
        await all_images_loaded(page, "#gallery-grid img")
        fit = await page.eval_on_selector("#gallery-grid img", "i => getComputedStyle(i).objectFit")
        assert fit == "contain"
        if width < 900:
            assert await page.is_visible("#nav-toggle") and not await page.is_visible(
                "#nav a[data-view=keys]"
            )
        else:
            assert await page.is_visible("#nav a[data-view=live]") and await page.is_visible("#sign-out")
        await tab.settle("gallery")

        # Search by prompt, then by seed.
        await page.fill("#gallery-filters input[name=q]", "fox")
        await page.click("#gallery-filters button[type=submit]")
        await page.wait_for_function("() => document.querySelectorAll('#gallery-grid .tile').length === 1")
        assert await tiles.first.get_attribute("data-id") == fox["id"]
        await page.fill("#gallery-filters input[name=q]", "")
        await page.fill("#gallery-filters input[name=seed]", "7")
        await page.click("#gallery-filters button[type=submit]")
        await page.wait_for_function(
            "i => [...document.querySelectorAll('#gallery-grid .tile')].map(t => t.dataset.id).join() === i",
            arg=neon["id"],
        )
        await page.fill("#gallery-filters input[name=seed]", "")
        await page.click("#gallery-filters button[type=submit]")
        await page.wait_for_function(
            f"() => document.querySelectorAll('#gallery-grid .tile').length === {len(SEEDS)}"
        )

        # Detail: the full image, its facts, the id with a copy button; stacked on a phone.
        await page.click(f"#gallery-grid .tile[data-id='{fox['id']}'] button.open")
        await page.wait_for_selector("#detail[open] img.full")
        await all_images_loaded(page, "#detail img.full")
        facts = await page.inner_text("#detail-facts")
        assert "a fox in the snow" in facts and fox["id"] in facts and "42" in facts
        assert await page.is_visible("#detail-facts button.copy")
        columns = await page.eval_on_selector(".detail-body", "e => getComputedStyle(e).gridTemplateColumns")
        assert len(columns.split()) == (1 if width < 760 else 2), columns
        # Focus stays in the dialog (a trap): tabbing past the last control wraps to the first.
        for _ in range(25):
            await page.keyboard.press("Tab")
            assert await page.evaluate(
                "() => document.getElementById('detail').contains(document.activeElement)"
            )
        await tab.settle("detail", full_page=False)

        # Star from the detail view.
        await page.click("#detail-star")
        await page.wait_for_selector("#detail-star[aria-pressed=true]")
        assert (await api.get(f"/api/v1/gallery/{fox['id']}")).json()["starred"] is True

        # Re-run with the same seed, then remix with a new seed and an edited prompt.
        await page.click("#remix-run")
        await page.wait_for_function("() => document.getElementById('detail').dataset.remixed")
        rerun_id = await page.get_attribute("#detail", "data-remixed")
        rerun = (await api.get(f"/api/v1/generations/{rerun_id}")).json()
        assert rerun["seed"] == 42 and rerun["prompt"] == fox["prompt"] and rerun["model"] == fox["model"]
        assert rerun["metadata"]["remix_of"] == fox["id"]
        await page.fill("#remix-form textarea[name=prompt]", "a fox in the snow, watercolour")
        await page.check("#remix-form input[value=new]")
        await page.click("#remix-run")
        await page.wait_for_function(
            "old => { const d = document.getElementById('detail').dataset.remixed; return d && d !== old }",
            arg=rerun_id,
        )
        remix = (
            await api.get(f"/api/v1/generations/{await page.get_attribute('#detail', 'data-remixed')}")
        ).json()
        assert remix["prompt"] == "a fox in the snow, watercolour" and remix["status"] == "succeeded"
        assert remix["metadata"]["remix_of"] == rerun_id
        await page.keyboard.press("Escape")
        await page.wait_for_selector("#detail", state="hidden")
        await page.wait_for_function(
            f"() => document.querySelectorAll('#gallery-grid .tile').length === {len(SEEDS) + 2}"
        )

        # Board: create one, put two images on it, filter by it.
        await page.click("#board-new")
        await page.fill("#prompt-form input[name=value]", f"Campaign {width}")
        await page.click("#prompt-form button[type=submit]")
        await page.wait_for_function(
            "name => [...document.querySelectorAll('#board-filter option')]"
            ".some(o => o.textContent.startsWith(name))",
            arg=f"Campaign {width}",
        )
        boards = (await api.get("/api/v1/boards")).json()["data"]
        board = next(b for b in boards if b["name"] == f"Campaign {width}")
        assert boards[0]["is_default"]
        await select_tiles(page, [fox["id"], neon["id"]])
        await page.select_option("#selection-board", board["id"])
        await page.click("#selection-add")
        await page.wait_for_selector("#toast:not([hidden])")
        assert (await api.get(f"/api/v1/boards/{board['id']}/download")).status_code == 200
        await clear_selection(page)
        await page.select_option("#board-filter", board["id"])
        await page.wait_for_function("() => document.querySelectorAll('#gallery-grid .tile').length === 2")

        # Zip download of the board: the archive's images are the API's bytes.
        async with page.expect_download() as download_info:
            await page.click("#board-download")
        download = await download_info.value
        path = tmp_path / f"board-{width}.zip"
        await download.save_as(path)
        archive = zipfile.ZipFile(path)
        assert sorted(archive.namelist()) == sorted([f"{fox['id']}-0.png", f"{neon['id']}-0.png"])
        for generation in (fox, neon):
            original = (await api.get(generation["images"][0]["url"])).content
            assert archive.read(f"{generation['id']}-0.png") == original
        await page.select_option("#board-filter", "")
        await page.wait_for_function(
            f"() => document.querySelectorAll('#gallery-grid .tile').length === {len(SEEDS) + 2}"
        )

        # Compare two images side by side.
        await select_tiles(page, [fox["id"], neon["id"]])
        await page.click("#selection-compare")
        await page.wait_for_selector("#compare[open]")
        await all_images_loaded(page, "#compare-grid img")
        assert await page.locator("#compare-grid figure").count() == 2
        boxes = [await f.bounding_box() for f in await page.query_selector_all("#compare-grid figure")]
        assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"]  # side by side
        await tab.settle("compare", full_page=False)
        await page.keyboard.press("Escape")
        await clear_selection(page)
        # ... and four, two by two.
        four = [made[prompt]["id"] for prompt, _, _ in SEEDS]
        await select_tiles(page, four)
        await page.click("#selection-compare")
        await page.wait_for_selector("#compare[open]")
        await all_images_loaded(page, "#compare-grid img")
        assert await page.locator("#compare-grid figure").count() == 4
        boxes = [await f.bounding_box() for f in await page.query_selector_all("#compare-grid figure")]
        assert boxes[0]["y"] == boxes[1]["y"] < boxes[2]["y"] == boxes[3]["y"]
        await page.keyboard.press("Escape")
        await clear_selection(page)

        # Delete with undo: gone at once, back after Undo.
        await select_tiles(page, [neon["id"]])
        await page.click("#selection-delete")
        await page.wait_for_selector(f"#gallery-grid .tile[data-id='{neon['id']}']", state="detached")
        assert (await api.get(f"/api/v1/gallery/{neon['id']}")).status_code == 404
        await page.click("#toast-undo")
        await page.wait_for_selector(f"#gallery-grid .tile[data-id='{neon['id']}']")
        assert (await api.get(f"/api/v1/gallery/{neon['id']}")).status_code == 200
        await clear_selection(page)

        # Usage: every day of the range, models sorted by value, spend per key by name, CSV.
        usage = (await api.get("/api/v1/usage", params={"group_by": "key"})).json()
        await go(tab, "usage")
        await page.wait_for_selector("#view-usage[data-loaded=true]", state="attached")
        assert float(await page.get_attribute("#usage-total-cost", "data-value") or "nan") == pytest.approx(
            usage["total_cost"]
        )
        assert float(await page.get_attribute("#chart-cost-day", "data-total") or "nan") == pytest.approx(
            usage["total_cost"]
        )
        days = json.loads(await page.get_attribute("#chart-cost-day", "data-order") or "[]")
        today = date.today()
        assert days[0] == today.replace(day=1).isoformat() and days[-1] == today.isoformat()
        assert len(days) == today.day
        by_model = sorted(usage["by_model"], key=lambda b: (-b["cost"], b["key"]))
        assert json.loads(await page.get_attribute("#chart-cost-model", "data-order") or "") == [
            b["key"] for b in by_model
        ]
        assert json.loads(await page.get_attribute("#chart-cost-key", "data-order") or "") == ["t"]
        assert await page.get_attribute("#usage-canceled", "data-value") == "0"
        async with page.expect_download() as csv_info:
            await page.click("#usage-csv")
        csv_path = tmp_path / f"usage-{width}.csv"
        await (await csv_info.value).save_as(csv_path)
        rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
        assert sum(float(r["cost_usd"]) for r in rows if r["breakdown"] == "day") == pytest.approx(
            usage["total_cost"]
        )
        await tab.settle("usage")

        await go(tab, "models")
        await page.wait_for_selector("#models-table tr[data-model='dall-e-3']")
        await tab.settle("models")

        # Keys: create one with every limit; the table shows numbers and this month's spend.
        await go(tab, "keys")
        await page.wait_for_selector("#keys-table[data-loaded=true]", state="attached")
        form = "#key-create"
        await page.fill(f"{form} input[name=name]", "made-in-the-ui")
        await page.check(f"{form} input[value=admin]")
        await page.uncheck(f"{form} input[value=generate]")
        await page.fill(f"{form} input[name=rate_limit_per_minute]", "30")
        await page.fill(f"{form} input[name=max_concurrent]", "2")
        await page.fill(f"{form} input[name=monthly_budget]", "12.5")
        await page.fill(f"{form} input[name=expires_at]", "2099-01-31T12:00")
        await page.click(f"{form} button[type=submit]")
        await page.wait_for_selector("#key-secret:not([hidden])")
        secret = (await page.inner_text("#key-secret-value")).strip()
        assert secret.startswith("sk-test-")
        row = page.locator("#keys-table tr[data-name='made-in-the-ui']")
        await row.wait_for()
        limits = await row.locator("td.limits").inner_text()
        assert "30 req/min" in limits and "2 concurrent" in limits and "$12.50/month" in limits
        mine = page.locator("#keys-table tr[data-name='t'] td.spend")
        assert float(await mine.get_attribute("data-value") or "nan") == pytest.approx(usage["total_cost"])
        created = next(
            k for k in (await api.get("/api/v1/keys")).json()["data"] if k["name"] == "made-in-the-ui"
        )
        assert created["scopes"] == ["admin", "read"] and created["mode"] == "test"
        assert (created["rate_limit_per_minute"], created["max_concurrent"], created["monthly_budget"]) == (
            30,
            2,
            12.5,
        )
        assert created["expires_at"].startswith("2099-01-31")
        await tab.settle("keys")
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {secret}"}
        ) as made_key:
            assert (await made_key.get("/api/v1/models")).status_code == 200
            page.once("dialog", lambda dialog: dialog.accept())
            await row.locator("button.revoke").click()
            await page.wait_for_selector("#keys-table tr[data-name='made-in-the-ui'] td.state.bad")
            assert (await made_key.get("/api/v1/models")).status_code == 401

        # Webhooks: create an endpoint (its secret shown once), a delivery with status and code.
        await go(tab, "webhooks")
        await page.wait_for_selector("#webhooks-table[data-loaded=true]", state="attached")
        with webhook_receiver([200]) as receiver:
            await page.fill("#webhook-create input[name=url]", receiver.url)
            await page.fill("#webhook-create input[name=description]", "ui test")
            await page.click("#webhook-create button[type=submit]")
            await page.wait_for_selector("#webhook-secret:not([hidden])")
            assert (await page.inner_text("#webhook-secret-value")).startswith("whsec_")
            endpoint = (await api.get("/api/v1/webhooks")).json()["data"][0]
            assert "secret" not in endpoint
            await api.post("/api/v1/generate", json={"prompt": "a webhook test", "model": "dall-e-3"})
            await asyncio.to_thread(receiver.wait_for, 1)
            for _ in range(50):
                deliveries = (await api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries")).json()["data"]
                if deliveries and deliveries[0]["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
            row_of = f"#webhooks-table tr[data-id='{endpoint['id']}']"
            await page.click(f"{row_of} button.deliveries")
            await page.wait_for_selector("#deliveries-table tr[data-status=delivered]")
            delivered_code = "#deliveries-table tr[data-status=delivered] td.code"
            assert (await page.inner_text(delivered_code)).strip() == "200"
            operations = {
                op["operationId"]
                for path in (await api.get("/openapi.json")).json()["paths"].values()
                for op in path.values()
            }
            if {"testWebhook", "updateWebhook"} <= operations:
                # A test event, delivered with its response code; then pause and resume.
                await page.click(f"{row_of} button.test")
                await asyncio.to_thread(receiver.wait_for, 2)
                await page.wait_for_selector(
                    "#deliveries-table tr[data-status=delivered] >> text=webhook.test"
                )
                await page.click(f"{row_of} button.pause")
                await page.wait_for_selector(f"{row_of}[data-status=disabled]")
                await page.click(f"{row_of} button.pause")
                await page.wait_for_selector(f"{row_of}[data-status=enabled]")
            else:  # this server cannot pause or send test events: the screen does not offer them
                assert await page.locator(f"{row_of} button.test, {row_of} button.pause").count() == 0
        await tab.settle("webhooks")

        await go(tab, "live")
        await page.wait_for_selector("#view-live[data-loaded=true]", state="attached")
        await tab.settle("live")
        assert not tab.problems, tab.problems
    finally:
        await api.aclose()
        await page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
async def test_live_jobs_show_progress_cancel_and_leave_when_finished(
    start_server, browser, tmp_path, width: int
) -> None:
    server = await start_server(offline_latency_seconds=30.0)
    key = await server.create_key()
    tab = await open_tab(browser, width, tmp_path)
    page = tab.page
    try:
        await sign_in(tab, server.url, key)
        await go(tab, "live")
        await page.wait_for_selector("#view-live[data-loaded=true]", state="attached")
        async with server.client(key) as api:
            jobs = []
            for prompt in ("a slow watercolour", "a slow charcoal sketch"):
                job = await api.post(
                    "/api/v1/generate",
                    json={"prompt": prompt, "model": "dall-e-3"},
                    headers={"Prefer": "respond-async"},
                )
                assert job.status_code == 202
                jobs.append(job.json()["id"])
            first, second = jobs
            await page.wait_for_selector(f"#live-table tr[data-id='{first}'] progress")
            await page.wait_for_selector(f"#live-table tr[data-id='{second}']")
            await tab.settle("live-jobs")
            # The id opens the job's detail.
            await page.click(f"#live-table tr[data-id='{first}'] button.detail-link")
            await page.wait_for_selector("#detail[open]")
            assert first in await page.inner_text("#detail-facts")
            await page.keyboard.press("Escape")
            # Cancel: the row leaves; the job is canceled; the other one stays.
            await page.click(f"#live-table tr[data-id='{first}'] button.cancel")
            await page.wait_for_selector(f"#live-table tr[data-id='{first}']", state="detached")
            assert (await api.get(f"/api/v1/generations/{first}")).json()["status"] == "canceled"
            assert await page.is_visible(f"#live-table tr[data-id='{second}']")
            # Finished elsewhere (here: canceled through the API): it leaves too, over SSE.
            await api.post(f"/api/v1/generations/{second}/cancel")
            await page.wait_for_selector(f"#live-table tr[data-id='{second}']", state="detached")
            await page.wait_for_selector("#live-empty:not([hidden])")
        assert not tab.problems, tab.problems
    finally:
        await page.context.close()


async def test_gallery_scrolls_infinitely_and_opens_tiles_from_the_keyboard(
    start_server, browser, tmp_path
) -> None:
    server = await start_server()
    key = await server.create_key()
    async with server.client(key) as api:
        batch = await api.post(
            "/api/v1/generate/batch",
            json={"prompts": [f"tile number {i}" for i in range(30)], "model": "dall-e-3", "batch_size": 10},
        )
        assert batch.status_code == 200 and batch.json()["succeeded"] == 30, batch.text
    tab = await open_tab(browser, 390, tmp_path)
    page = tab.page
    try:
        await sign_in(tab, server.url, key)
        await page.wait_for_function("() => document.querySelectorAll('#gallery-grid .tile').length === 24")
        # Scrolling to the end loads the next page by itself.
        await page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        await page.wait_for_function("() => document.querySelectorAll('#gallery-grid .tile').length === 30")
        assert await page.is_hidden("#gallery-more")
        # Keyboard: a tile opens with Enter; Escape closes and gives focus back to it.
        await page.focus("#gallery-grid .tile:first-child button.open")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#detail[open]")
        await page.keyboard.press("Escape")
        await page.wait_for_selector("#detail", state="hidden")
        first_tile = "#gallery-grid .tile:first-child button.open"
        assert await page.evaluate(
            "sel => document.activeElement === document.querySelector(sel)", first_tile
        )
        # The menu opens and closes from the keyboard too.
        await page.focus("#nav-toggle")
        await page.keyboard.press("Enter")
        assert await page.is_visible("#nav a[data-view=usage]")
        await page.keyboard.press("Escape")
        assert not await page.is_visible("#nav a[data-view=usage]")
        assert not tab.problems, tab.problems
    finally:
        await page.context.close()


async def test_api_reference_authorizes_try_it_out_and_redoc_stays_local(server, browser, tmp_path) -> None:
    key = await server.create_key()
    tab = await open_tab(browser, 1400, tmp_path)
    page = tab.page
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((server.url, "data:", "blob:")) else None,
    )
    try:
        await page.goto(f"{server.url}/docs")
        await page.click("button.authorize")
        await page.fill(".auth-container input", key)
        await page.click(".auth-btn-wrapper button.authorize")
        await page.click("button.btn-done")
        operation = page.locator("#operations-models-listModels")
        await operation.locator(".opblock-summary").click()
        await operation.locator("button.try-out__btn").click()
        await operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        await status.wait_for()
        assert (await status.inner_text()).strip() == "200"
        assert "dall-e-3" in await operation.locator(".live-responses-table .microlight").first.inner_text()
        os.makedirs(ARTIFACTS, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "docs-try-it-out-1400.png"))

        await page.goto(f"{server.url}/redoc")
        await page.wait_for_selector("text=Search Gallery", state="attached")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(ARTIFACTS / "redoc-1400.png"))
        assert outside == [], outside
        assert not tab.problems, tab.problems
    finally:
        await page.context.close()


async def test_refused_webhook_target_names_the_setting(server) -> None:
    key = await server.create_key()
    async with server.client(key) as api:
        refused = await api.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 400 or refused.status_code == 422
    error = refused.json()["error"]
    assert error["param"] == "url" and "ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE_TARGETS" in error["message"]


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


def _mask_png(size: tuple[int, int]) -> bytes:
    """A PNG mask: transparent (repaint) on the left half, opaque on the right."""
    from PIL import Image

    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


async def _open_from_gallery(page: Any, generation_id: str) -> None:
    await page.click(f"#gallery-grid .tile[data-id='{generation_id}'] button.open")
    await page.wait_for_selector(f"#detail[open][data-id='{generation_id}']")
    await page.wait_for_selector("#chain-children[data-loaded=true]", state="attached")


async def _option_values(page: Any, selector: str) -> list[str]:
    return list(await page.eval_on_selector_all(f"{selector} option", "os => os.map(o => o.value)"))


@pytest.mark.parametrize("width", WIDTHS)
async def test_detail_view_upscales_a_stored_image_and_shows_the_chain(
    start_server, browser, tmp_path, width: int
) -> None:
    server = await start_server()
    key = await server.create_key()
    async with server.client(key) as api:
        root = await api.post(
            "/api/v1/generate", json={"prompt": "a red kite", "model": "dall-e-2", "size": "256x256"}
        )
        assert root.status_code == 200, root.text
        root_id = root.json()["id"]
        tab = await open_tab(browser, width, tmp_path)
        page = tab.page
        try:
            await sign_in(tab, server.url, key)
            await _open_from_gallery(page, root_id)
            # A text-to-image generation: made from a prompt, nothing made from it yet.
            assert "A prompt" in await page.inner_text("#chain-parents")
            assert "Nothing yet" in await page.inner_text("#chain-children")
            assert "upscale" in await _option_values(page, "#op-kind")

            # Upscale 2x by stored id, from the detail view; the result opens when it is done.
            await page.select_option("#op-kind", "upscale")
            await page.select_option("#op-model", "magnific-upscaler")
            await page.select_option("#op-factor", "2")
            await tab.settle("detail-actions", full_page=False)
            await page.click("#op-run")
            await page.wait_for_function("() => document.getElementById('detail').dataset.operated")
            child_id = await page.get_attribute("#detail", "data-operated")
            assert child_id and child_id != root_id
            await page.wait_for_selector(f"#detail[open][data-id='{child_id}']")
            child = (await api.get(f"/api/v1/generations/{child_id}")).json()
            assert child["operation"] == "upscale" and child["status"] == "succeeded"
            assert child["parents"] == [root_id] and child["operation_params"]["factor"] == 2
            assert (child["images"][0]["width"], child["images"][0]["height"]) == (512, 512)
            assert child["cost"] == pytest.approx(0.10)
            assert child["sources"][0]["origin"] == "generation"
            assert child["sources"][0]["generation_id"] == root_id

            # The child's detail: what it did, and its parent (a stored image: a link to it).
            facts = await page.inner_text("#detail-facts")
            assert "Upscale" in facts and child_id in facts
            parent = page.locator(f"#chain-parents li[data-origin=generation][data-id='{root_id}']")
            await parent.wait_for()
            await all_images_loaded(page, "#chain-parents img")
            assert child_id in await page.inner_text("#op-status")
            assert await page.is_hidden("#remix-form")  # re-run is for text to image only
            await all_images_loaded(page, "#detail img.full")
            await tab.settle("detail-chain", full_page=False)

            # Back to the parent through the chain: its children now list the upscale.
            await parent.locator("button.chain-open").click()
            await page.wait_for_selector(f"#detail[open][data-id='{root_id}']")
            await page.wait_for_selector(
                f"#chain-children[data-loaded=true] li[data-id='{child_id}'][data-operation=upscale]"
            )
            assert "Upscale · succeeded" in await page.inner_text("#chain-children")
            assert await page.is_visible("#remix-form")
            await all_images_loaded(page, "#detail img")
            await tab.settle("detail-parent", full_page=False)
            await page.keyboard.press("Escape")
            await page.wait_for_selector("#detail", state="hidden")
            await page.wait_for_selector(f"#gallery-grid .tile[data-id='{child_id}']")
            assert not tab.problems, tab.problems
        finally:
            await page.context.close()


async def test_detail_view_edits_with_an_uploaded_mask(start_server, browser, tmp_path) -> None:
    server = await start_server()
    key = await server.create_key()
    async with server.client(key) as api:
        root = await api.post(
            "/api/v1/generate", json={"prompt": "a blue door", "model": "dall-e-2", "size": "256x256"}
        )
        root_id = root.json()["id"]
        mask = tmp_path / "mask.png"
        mask.write_bytes(_mask_png((256, 256)))
        tab = await open_tab(browser, 1440, tmp_path)
        page = tab.page
        try:
            await sign_in(tab, server.url, key)
            await _open_from_gallery(page, root_id)
            await page.select_option("#op-kind", "edit")
            await page.select_option("#op-model", "dall-e-2")
            # The prompt is required for an edit: said before anything is sent.
            await page.click("#op-run")
            assert "Prompt" in await page.inner_text("#op-error")
            await page.fill("#op-form textarea[name=prompt]", "paint the door green")
            await page.set_input_files("#op-form input[name=mask]", str(mask))
            await page.click("#op-run")
            await page.wait_for_function("() => document.getElementById('detail').dataset.operated")
            child_id = await page.get_attribute("#detail", "data-operated")
            child = (await api.get(f"/api/v1/generations/{child_id}")).json()
            assert child["operation"] == "edit" and child["status"] == "succeeded", child
            assert child["prompt"] == "paint the door green" and child["parents"] == [root_id]
            assert [(s["role"], s["origin"]) for s in child["sources"]] == [
                ("image", "generation"),
                ("mask", "upload"),
            ]
            # The chain names the stored parent and the uploaded mask as such.
            await page.wait_for_selector(f"#detail[open][data-id='{child_id}']")
            await page.wait_for_selector(f"#chain-parents li[data-role=image][data-id='{root_id}']")
            mask_row = await page.inner_text("#chain-parents li[data-role=mask][data-origin=upload]")
            assert "Mask" in mask_row and "Uploaded file" in mask_row and "256×256" in mask_row
            await tab.settle("detail-edit", full_page=False)
            assert not tab.problems, tab.problems
        finally:
            await page.context.close()


async def test_a_slow_action_shows_its_progress_then_opens_the_result(
    start_server, browser, tmp_path
) -> None:
    server = await start_server(offline_latency_seconds=2.0)
    key = await server.create_key()
    async with server.client(key) as api:
        root = await api.post(
            "/api/v1/generate", json={"prompt": "a slow lantern", "model": "dall-e-2", "size": "256x256"}
        )
        assert root.status_code == 200, root.text
        root_id = root.json()["id"]
        tab = await open_tab(browser, 390, tmp_path)
        page = tab.page
        try:
            await sign_in(tab, server.url, key)
            await _open_from_gallery(page, root_id)
            await page.select_option("#op-kind", "variation")
            await page.select_option("#op-model", "dall-e-2")
            await page.click("#op-run")
            # While the job runs: a progress bar with its state, and the button cannot be pressed twice.
            await page.wait_for_selector("#op-progress:not([hidden]) progress")
            assert await page.is_disabled("#op-run")
            state = await page.inner_text("#op-progress-text")
            assert "queued" in state or "running" in state, state
            running = await page.get_attribute("#detail", "data-operating")
            assert running and (await api.get(f"/api/v1/generations/{running}")).json()["status"] in (
                "queued",
                "running",
            )
            await tab.settle("detail-progress", full_page=False)
            await page.wait_for_selector(f"#detail[open][data-id='{running}']", timeout=STEP * 2)
            assert await page.is_hidden("#op-progress") and await page.is_enabled("#op-run")
            variation = (await api.get(f"/api/v1/generations/{running}")).json()
            assert variation["operation"] == "variation" and variation["status"] == "succeeded"
            assert variation["parents"] == [root_id]
            assert not tab.problems, tab.problems
        finally:
            await page.context.close()


async def _models_with_operations(route: Any, operations: dict[str, dict[str, Any]] | None) -> None:
    """/api/v1/models as the server answers it, with each model's `operations` replaced (None: removed)."""
    response = await route.fetch()
    body = await response.json()
    for model in body["data"]:
        model.pop("operations", None)
        if operations is not None and model["name"] in operations:
            model["operations"] = operations[model["name"]]
    await route.fulfill(response=response, json=body)


async def test_actions_follow_the_catalog_and_show_the_servers_422_without_it(
    start_server, browser, tmp_path
) -> None:
    server = await start_server()
    key = await server.create_key()
    async with server.client(key) as api:
        root = await api.post(
            "/api/v1/generate", json={"prompt": "a green hill", "model": "dall-e-2", "size": "256x256"}
        )
        root_id = root.json()["id"]
    tab = await open_tab(browser, 1440, tmp_path)
    page = tab.page
    try:
        # A catalog that lists operations: only what some model offers, with that model's factors.
        await page.route(
            "**/api/v1/models",
            lambda route: _models_with_operations(
                route, {"magnific-upscaler": {"upscale": {"factors": [2, 4], "price": 0.1}}}
            ),
        )
        await sign_in(tab, server.url, key)
        await _open_from_gallery(page, root_id)
        assert await _option_values(page, "#op-kind") == ["upscale"]
        assert await _option_values(page, "#op-model") == ["magnific-upscaler"]
        assert await _option_values(page, "#op-factor") == ["2", "4"]
        assert "$0.10" in await page.inner_text("#op-price")
        await page.keyboard.press("Escape")
        await page.context.close()

        # No `operations` on the models (an older server): every action is offered, and a model
        # that cannot do it gets the server's 422, shown as it names the models that can.
        tab = await open_tab(browser, 1440, tmp_path)
        page = tab.page
        await page.route("**/api/v1/models", lambda route: _models_with_operations(route, None))
        await sign_in(tab, server.url, key)
        await _open_from_gallery(page, root_id)
        assert await _option_values(page, "#op-kind") == [
            "edit",
            "variation",
            "upscale",
            "remove_background",
            "image_to_image",
        ]
        await page.select_option("#op-kind", "upscale")
        assert (await _option_values(page, "#op-model"))[0] == ""  # the server's default model
        await page.select_option("#op-model", "dall-e-3")
        await page.click("#op-run")
        await page.wait_for_selector("#op-error:not(:empty)")
        error = await page.inner_text("#op-error")
        assert "magnific-upscaler" in error and "422" in error and "model" in error, error
        await tab.settle("detail-refused", full_page=False)
        assert not tab.problems or all("422" in p for p in tab.problems), tab.problems
    finally:
        await page.context.close()


async def test_usage_shows_spend_per_key_by_name_and_cache_savings(start_server, browser, tmp_path) -> None:
    server = await start_server()
    key = await server.create_key()
    async with server.client(key) as api:
        made = await api.post("/api/v1/keys", json={"name": "ci-bot", "scopes": ["generate", "read"]})
        assert made.status_code in (200, 201), made.text
        async with server.client(made.json()["key"]) as bot:
            for prompt in ("one", "two"):
                answer = await bot.post("/api/v1/generate", json={"prompt": prompt, "model": "dall-e-3"})
                assert answer.status_code == 200, answer.text
        await api.post("/api/v1/generate", json={"prompt": "three", "model": "dall-e-2", "size": "256x256"})
        # The same seeded request twice with the cache on: the second is a $0 hit.
        seeded = {"prompt": "four", "model": "stable-image-core", "seed": 4, "cache": True}
        paid = (await api.post("/api/v1/generate", json=seeded)).json()
        hit = (await api.post("/api/v1/generate", json=seeded)).json()
        assert hit["cached_from"] == paid["id"] and hit["cost"] == 0, hit
        usage = (await api.get("/api/v1/usage", params={"group_by": "key"})).json()
    assert usage["cached_generations"] == 1 and usage["cache_savings"] == pytest.approx(paid["cost"])
    tab = await open_tab(browser, 1440, tmp_path)
    page = tab.page
    try:
        await sign_in(tab, server.url, key)
        await go(tab, "usage")
        await page.wait_for_selector("#view-usage[data-loaded=true]", state="attached")
        # Spend per key, by name, the biggest first.
        assert json.loads(await page.get_attribute("#chart-cost-key", "data-order") or "") == ["ci-bot", "t"]
        assert float(await page.get_attribute("#chart-cost-key", "data-total") or "nan") == pytest.approx(
            usage["total_cost"]
        )
        # The cache's hits and what they saved.
        await page.wait_for_selector("#usage-cache-savings")
        saved = float(await page.get_attribute("#usage-cache-savings", "data-value") or "nan")
        assert saved == pytest.approx(paid["cost"])
        assert f"${paid['cost']:.4f}" in await page.inner_text("#usage-cache-savings")
        assert await page.get_attribute("#usage-cached", "data-value") == "1"
        await tab.settle("usage-cache")
        assert not tab.problems, tab.problems
    finally:
        await page.context.close()
