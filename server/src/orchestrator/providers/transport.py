"""The provider HTTP transport: httpx's client API on aiohttp's connection pool.

Adapters keep building ``httpx.Request`` objects and reading ``httpx.Response`` objects (their wire
behaviour and their tests do not change); only the bytes move through aiohttp. httpcore's pool
checks every pooled connection for every request (``has_expired`` → ``is_socket_readable``), so
its cost per request grows with the number of connections; aiohttp's pool hands out an idle
connection in O(1). Under 500 requests in flight that was more than half of the server's CPU.

The client layer (redirects, cookies, auth, content decoding) stays httpx's: this transport sends
exactly one request and returns the raw, still-encoded body.
"""

from __future__ import annotations

import aiohttp
import httpx
from yarl import URL

# Hop-by-hop or length headers: aiohttp frames the body it is given itself.
_SKIP = frozenset({b"content-length", b"transfer-encoding", b"connection", b"keep-alive"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` backed by one ``aiohttp.ClientSession`` (one per process).

    ``max_connections`` caps open connections in total (0 = unbounded), ``max_per_host`` per
    upstream host; idle connections are dropped after ``keepalive_expiry`` seconds.
    """

    def __init__(
        self,
        *,
        max_connections: int = 1000,
        max_per_host: int = 0,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self._max_connections = max_connections
        self._max_per_host = max_per_host
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a ClientSession belongs to the running event loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_per_host,
                keepalive_timeout=self._keepalive_expiry,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx's client layer keeps cookies
                auto_decompress=False,  # httpx decodes by Content-Encoding, as before
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connect = timeouts.get("connect")
        pool = timeouts.get("pool")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None and pool is None else (connect or 0) + (pool or 0),
            sock_connect=connect,
            sock_read=timeouts.get("read"),
        )
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() not in _SKIP
        ]
        body = await request.aread()
        try:
            async with self._client().request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ClientResponseError as exc:  # unparsable response line or headers
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            content=content,
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def provider_client(*, max_connections: int = 1000) -> httpx.AsyncClient:
    """The one shared client every provider adapter uses (one per process)."""
    return httpx.AsyncClient(
        transport=AiohttpTransport(max_connections=max_connections),
        timeout=httpx.Timeout(60.0, connect=10.0),
        follow_redirects=True,
    )
