"""The asynchronous client. Mirrors ``_client.py`` method for method."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from ._base_client import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    BaseClient,
    QueryParams,
    RequestOptions,
    TimeoutTypes,
)
from ._retry import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BACKOFF
from ._sse import SSEDecoder
from .models import (
    BatchResponse,
    BatchResult,
    GenerationEvent,
    GenerationList,
    GenerationResponse,
    ImageInfo,
    ModelInfo,
    ModelList,
    UsageStats,
)
from .pagination import AsyncPage

__all__ = ["AsyncOrchestrationClient"]


class AsyncOrchestrationClient(BaseClient):
    """Asynchronous client for the Freepik AI Orchestrator API (same arguments and methods as
    :class:`OrchestrationClient`; every method is a coroutine).

    Args:
        base_url: Server URL; default ``$ORCHESTRATOR_BASE_URL`` or ``http://localhost:8000``.
        api_key: ``sk-test-…``/``sk-live-…``; default ``$ORCHESTRATOR_API_KEY``.
        bearer_token: A JWT, sent instead of an API key.
        timeout: Seconds (or an ``httpx.Timeout``) for each HTTP request; ``None`` for no limit.
        max_retries: Retries after the first attempt for connection errors, timeouts, 408, 429
            and 5xx (0 disables retries).
        retry_backoff: Base of the exponential backoff in seconds (see README "Retries").
        max_connections: Size of the connection pool.
        keep_alive: Keep idle connections open for reuse.
        http_client: Your own ``httpx.AsyncClient`` (proxies, mTLS, a mock transport). You keep
            ownership: ``close()`` does not close it.
        default_headers: Headers added to every request.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        bearer_token: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keep_alive: bool = True,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            bearer_token=bearer_token,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            max_connections=max_connections,
            keep_alive=keep_alive,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError("http_client must be an httpx.AsyncClient (use OrchestrationClient for Client)")
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(limits=self._limits(), timeout=self.timeout)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # ---------------------------------------------------------------- lifecycle

    async def close(self) -> None:
        """Close the connection pool (not a ``http_client`` you passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncOrchestrationClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- transport

    async def _request(self, options: RequestOptions) -> httpx.Response:
        """Send with retries. Returns a successful response (body read unless streaming)."""
        retries = 0
        while True:
            request = self._build_request(options, retries)
            try:
                response = await self._http.send(
                    request, stream=True, follow_redirects=options.follow_redirects
                )
                try:
                    if not (response.is_success and options.stream):
                        await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
            except httpx.TransportError as exc:
                decision = self._retry_decision(options, retries, None)
                if not decision.retry:
                    raise self._connection_error(exc, options) from exc
            else:
                if response.is_success:
                    return response
                decision = self._retry_decision(options, retries, response)
                if not decision.retry:
                    raise self._status_error(response)
            await self._sleep(decision.delay)
            retries += 1

    # ---------------------------------------------------------------- generations

    async def generate(
        self,
        prompt: str,
        model: str,
        style: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        n: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
    ) -> GenerationResponse:
        """Generate an image and return the finished generation.

        If the server hands back the job before it finishes (202), this waits for it (up to
        ``wait_timeout`` seconds). A failed generation raises the mapped exception (e.g.
        :class:`ProviderError`, :class:`ContentPolicyError`) with ``generation_id`` set.
        With ``wait=False`` the queued job is returned at once (see :meth:`submit`).
        """
        options = self._generate_options(
            prompt=prompt,
            model=model,
            style=style,
            size=size,
            quality=quality,
            metadata=metadata,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            idempotency_key=idempotency_key,
            timeout=timeout,
            wait=wait,
        )
        generation = self._parse(GenerationResponse, await self._request(options))
        if not wait:
            return generation
        if not generation.is_terminal:
            generation = await self.wait_for(generation.id, timeout=wait_timeout)
        return self._finished(generation)

    async def submit(
        self,
        prompt: str,
        model: str,
        style: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        n: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes = None,
    ) -> GenerationResponse:
        """Create a generation job and return it without waiting (``status`` is ``queued``).

        Follow it with :meth:`wait_for`, :meth:`stream_events` or :meth:`get_generation`.
        """
        return await self.generate(
            prompt,
            model,
            style,
            size,
            quality,
            metadata,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            idempotency_key=idempotency_key,
            timeout=timeout,
            wait=False,
        )

    async def get_generation(self, generation_id: str, *, timeout: TimeoutTypes = None) -> GenerationResponse:
        """Fetch one generation (also a job's current status)."""
        options = self._get(f"/generations/{self._path_id(generation_id)}", timeout=timeout)
        return self._parse(GenerationResponse, await self._request(options))

    async def wait_for(
        self,
        generation_id: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = 0.5,
    ) -> GenerationResponse:
        """Poll a job until it succeeds, fails or is canceled, and return it (without raising
        for a failed job). Raises :class:`APITimeoutError` after ``timeout`` seconds."""
        deadline = self._deadline(timeout)
        polls = 0
        while True:
            generation = await self.get_generation(generation_id)
            if generation.is_terminal:
                return generation
            await self._sleep(self._poll_delay(polls, poll_interval, deadline, generation_id))
            polls += 1

    async def stream_events(
        self, generation_id: str, *, timeout: TimeoutTypes = None
    ) -> AsyncIterator[GenerationEvent]:
        """Yield the job's events (queued → running with progress → a terminal status) as the
        server sends them; the iterator ends after the terminal event."""
        options = self._events_options(generation_id, timeout)
        reconnects = 0
        while True:
            response = await self._request(options)
            decoder = SSEDecoder()
            dropped: Exception | None = None
            try:
                async for line in response.aiter_lines():
                    event = self._event_from_line(decoder, line, options)
                    if event is not None:
                        yield event
                        if event.is_terminal:
                            return
                event = self._event_from_line(decoder, None, options)  # an unterminated last event
                if event is not None:
                    yield event
                    if event.is_terminal:
                        return
            except httpx.TransportError as exc:
                dropped = exc
            finally:
                await response.aclose()
            # The stream ended before the job did (a proxy cut it, or the server restarted):
            # reconnect; the server starts again with the job's current state.
            await self._sleep(self._reconnect_delay(generation_id, reconnects, dropped))
            reconnects += 1

    async def cancel(
        self, generation_id: str, *, idempotency_key: str | None = None, timeout: TimeoutTypes = None
    ) -> GenerationResponse:
        """Cancel a job that has not finished. Raises :class:`ConflictError` if it already has."""
        options = self._post(
            f"/generations/{self._path_id(generation_id)}/cancel",
            None,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        return self._parse(GenerationResponse, await self._request(options))

    async def generate_batch(
        self,
        prompts: list[str],
        model: str,
        batch_size: int | None = None,
        *,
        style: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        n: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        raise_on_error: bool = False,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes = None,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
    ) -> BatchResult:
        """Generate one image per prompt (``batch_size`` at a time on the server).

        Returns a :class:`BatchResult`: a list with one :class:`BatchItem` per prompt, in order.
        Items the server hands back still running are waited for (``wait_timeout`` in all).
        With ``raise_on_error=True`` the first failed item's exception is raised instead.
        """
        options = self._batch_options(
            prompts=prompts,
            model=model,
            batch_size=batch_size,
            style=style,
            size=size,
            quality=quality,
            metadata=metadata,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        batch = self._parse(BatchResponse, await self._request(options))
        pending = self._pending_in_batch(batch)
        if pending:
            deadline = self._deadline(wait_timeout)
            jobs = await asyncio.gather(
                *(self.wait_for(job_id, timeout=self._remaining(deadline)) for job_id in pending)
            )
            batch = self._resolve_batch(batch, {job.id: job for job in jobs})
        result = BatchResult(batch)
        if raise_on_error:
            for item in result:
                item.raise_for_error()
        return result

    async def get_generation_history(
        self,
        limit: int | None = None,
        filter_by_model: str | None = None,
        status: str | None = None,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        query: str | None = None,
        cursor: str | None = None,
        *,
        model: str | None = None,
        timeout: TimeoutTypes = None,
    ) -> AsyncPage[GenerationResponse]:
        """Past generations, newest first. ``limit`` is the page size; ``async for`` over the
        returned page walks every later page lazily (``.data`` is just this page)."""
        params = self._history_params(
            limit=limit,
            filter_by_model=filter_by_model,
            model=model,
            status=status,
            since=since,
            until=until,
            metadata=metadata,
            query=query,
        )
        return await self._history_page(params, cursor, timeout)

    async def _history_page(
        self, params: QueryParams, cursor: str | None, timeout: TimeoutTypes
    ) -> AsyncPage[GenerationResponse]:
        listing = self._parse(
            GenerationList, await self._request(self._history_options(params, cursor, timeout))
        )
        return AsyncPage(
            data=listing.data,
            has_more=listing.has_more,
            next_cursor=listing.next_cursor,
            cursor=cursor,
            fetch=lambda next_cursor: self._history_page(params, next_cursor, timeout),
        )

    # ---------------------------------------------------------------- catalog and usage

    async def list_models(self, *, timeout: TimeoutTypes = None) -> list[ModelInfo]:
        """Every model in the catalog, with its capabilities, pricing and availability."""
        return self._parse(ModelList, await self._request(self._get("/models", timeout=timeout))).data

    async def get_model_info(self, name: str, *, timeout: TimeoutTypes = None) -> ModelInfo:
        """One model; raises :class:`ModelNotAvailableError` for an unknown name."""
        options = self._get(f"/models/{self._path_id(name)}", timeout=timeout)
        return self._parse(ModelInfo, await self._request(options))

    async def get_usage_stats(
        self,
        start_date: str | date | datetime,
        end_date: str | date | datetime,
        group_by: str | None = None,
        *,
        timeout: TimeoutTypes = None,
    ) -> UsageStats:
        """Usage and cost between two dates (inclusive), optionally grouped by ``model``,
        ``day``, ``key`` or ``metadata.<key>``."""
        options = self._get("/usage", self._usage_params(start_date, end_date, group_by), timeout=timeout)
        return self._parse(UsageStats, await self._request(options))

    # ---------------------------------------------------------------- images

    async def download(
        self,
        image: str | GenerationResponse | ImageInfo,
        path: str | os.PathLike[str],
        *,
        thumbnail: bool = False,
        timeout: TimeoutTypes = None,
    ) -> Path:
        """Save an image (a URL, a generation's first image, or one ``ImageInfo``) to ``path``
        (a file, or a directory to keep the URL's file name). Returns the file written."""
        url = self._download_url(image, thumbnail)
        options = self._download_options(url, timeout)
        response = await self._request(options)
        try:
            destination = self._download_path(url, path, response.headers.get("content-type"))
            partial = destination.with_name(destination.name + ".part")
            try:
                with partial.open("wb") as file:
                    async for chunk in response.aiter_bytes():
                        file.write(chunk)
                partial.replace(destination)  # never leave a truncated file under the final name
            finally:
                partial.unlink(missing_ok=True)
        except httpx.TransportError as exc:
            raise self._connection_error(exc, options) from exc
        finally:
            await response.aclose()
        return destination
