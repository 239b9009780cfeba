"""The provider transport (httpx API on aiohttp's pool) against a real loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from orchestrator.providers.transport import provider_client


@pytest.fixture
async def upstream(unused_tcp_port: int) -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        payload = b'{"method":"%s","length":%d,"type":"%s","auth":"%s"}' % (
            request.method.encode(),
            len(body),
            request.headers.get("content-type", "").encode(),
            request.headers.get("authorization", "").encode(),
        )
        return web.Response(
            body=gzip.compress(payload),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json", "Set-Cookie": "s=1"},
        )

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo?q=%20a")

    # Answers late: at the end of the test (so the shutdown need not wait it out) or after 5 s.
    released = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), 5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/moved", moved)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{unused_tcp_port}"
    finally:
        released.set()
        await runner.cleanup()


async def test_json_post_headers_and_gzip_body(upstream: str) -> None:
    async with provider_client() as client:
        response = await client.post(upstream + "/echo", json={"a": 1}, headers={"Authorization": "Bearer k"})
    assert response.status_code == 200
    assert response.json() == {"method": "POST", "length": 7, "type": "application/json", "auth": "Bearer k"}


async def test_multipart_body_is_sent_whole(upstream: str) -> None:
    async with provider_client() as client:
        response = await client.post(upstream + "/echo", files={"f": ("a.png", b"x" * 1000)}, data={"k": "v"})
    body = response.json()
    assert body["type"].startswith("multipart/form-data; boundary=")
    assert body["length"] > 1000


async def test_redirects_are_followed_by_the_client(upstream: str) -> None:
    async with provider_client() as client:
        response = await client.get(upstream + "/moved")
    assert response.status_code == 200
    assert str(response.url) == upstream + "/echo?q=%20a"
    assert [r.status_code for r in response.history] == [302]


async def test_refused_connection_is_an_httpx_connect_error(unused_tcp_port: int) -> None:
    async with provider_client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{unused_tcp_port}/")


async def test_read_timeout_is_an_httpx_timeout(upstream: str) -> None:
    async with provider_client() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(upstream + "/slow", timeout=httpx.Timeout(0.2))
