"""The asynchronous client, and the source of the synchronous one.

``_client.py`` is generated from this file by ``scripts/unasync.py`` (``async``/``await`` removed,
async names swapped for their sync twins, the blocks marked ``# unasync:`` exchanged); a test fails
when it is stale. Edit this file, then run ``python scripts/unasync.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, overload

import httpx

from . import _files
from ._base_client import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    BaseClient,
    Body,
    CallOptions,
    Headers,
    Query,
    QueryParams,
    RequestOptions,
)
from ._files import DownloadSource
from ._inputs import ImageInput
from ._response import AsyncOrchestrationClientWithRawResponse
from ._retry import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BACKOFF
from ._sse import SSEDecoder
from ._types import NOT_GIVEN, CacheOption, NotGiven, TimeoutTypes
from ._webhook_models import (
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointList,
)
from .exceptions import APITimeoutError
from .models import (
    BatchResponse,
    BatchResult,
    GenerationEvent,
    GenerationList,
    GenerationResponse,
    GenerationResult,
    ModelInfo,
    ModelList,
    UsageStats,
)
from .pagination import AsyncPage

__all__ = ["AsyncOrchestrationClient"]


class AsyncOrchestrationClient(BaseClient):
    """Client for the Freepik AI Orchestrator API (asynchronous: every method is a coroutine).

    Args:
        base_url: Server URL; default ``$ORCHESTRATOR_BASE_URL`` or ``http://localhost:8000``.
        api_key: ``sk-test-…``/``sk-live-…``; default ``$ORCHESTRATOR_API_KEY``. Without an API
            key or bearer token anywhere, the constructor raises :class:`OrchestrationError`.
        bearer_token: A JWT, sent instead of an API key.
        timeout: Seconds one call may take in all (retries, backoff and waiting for a
            generation included; default 600 s, connect 10 s), an ``httpx.Timeout`` (its ``read``
            value bounds the call, the other parts cap each request's phases), or ``None`` for
            no limit.
        max_retries: Retries after the first attempt for connection errors, timeouts, 408, 429
            and 5xx (0 disables retries).
        retry_backoff: Base of the exponential backoff in seconds (see README "Retries").
        max_connections: Size of the connection pool.
        keep_alive: Keep idle connections open for reuse.
        http_client: Your own ``httpx.AsyncClient`` (proxies, mTLS, a mock transport). You keep
            ownership: ``close()`` does not close it.
        default_headers: Headers added to every request.

    Every method also takes ``timeout``, ``max_retries``, ``extra_headers``, ``extra_query`` and
    ``extra_body`` for that call alone.
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
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            # unasync: sync
            # raise TypeError(
            #     "http_client must be an httpx.Client (use AsyncOrchestrationClient for AsyncClient)"
            # )
            # unasync: async
            raise TypeError("http_client must be an httpx.AsyncClient (use OrchestrationClient for Client)")
            # unasync: end
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
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(limits=self._limits(), timeout=self.timeout)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # ---------------------------------------------------------------- lifecycle

    async def close(self) -> None:
        """Close the connection pool (not a ``http_client`` you passed in, and not from a copy
        made by :meth:`with_options`)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncOrchestrationClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def with_options(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        bearer_token: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry_backoff: float | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
    ) -> AsyncOrchestrationClient:
        """A copy of this client with some options changed, sharing its connection pool.

        ``default_headers`` are added to this client's; ``api_key`` or ``bearer_token`` replaces
        the credentials. Closing the copy leaves the pool open; closing this client closes it.
        """
        client = AsyncOrchestrationClient(
            http_client=self._http,
            **self._copy_kwargs(
                base_url=base_url,
                api_key=api_key,
                bearer_token=bearer_token,
                timeout=timeout,
                max_retries=max_retries,
                retry_backoff=retry_backoff,
                default_headers=default_headers,
            ),
        )
        self._share_seams(client)
        client._sleep = self._sleep
        return client

    @cached_property
    def with_raw_response(self) -> AsyncOrchestrationClientWithRawResponse:
        """The same methods, returning an :class:`APIResponse` (``.status_code``, ``.headers``,
        ``.request_id``, ``.parse()``) instead of the parsed object."""
        return AsyncOrchestrationClientWithRawResponse(self)

    # ---------------------------------------------------------------- transport

    async def _request(self, options: RequestOptions) -> httpx.Response:
        """Send with retries within the call's budget. Returns a successful response (body read
        unless streaming)."""
        retries = 0
        while True:
            self._check_budget(options)
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
                delay = self._after_failure(options, retries, None, exc)
            else:
                if response.is_success:
                    self._capture(response, retries)
                    return response
                delay = self._after_failure(options, retries, response, None)
            await self._sleep(delay)
            retries += 1

    # ---------------------------------------------------------------- generations

    @overload
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
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResult: ...

    @overload
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
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[False],
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse: ...

    @overload
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
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult: ...

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
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult:
        """Generate an image and return the finished generation (a :class:`GenerationResult`).

        If the server hands back the job before it finishes (202), this waits for it. The whole
        call ends within ``timeout`` and within ``wait_timeout`` seconds (whichever is shorter),
        else raises :class:`APITimeoutError` with ``generation_id`` (the job keeps running). A
        failed generation raises the mapped exception (e.g. :class:`ProviderError`,
        :class:`ContentPolicyError`) with ``generation_id`` set. With ``wait=False`` the queued
        job is returned at once (see :meth:`submit`).
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            wait_timeout=wait_timeout if wait else NOT_GIVEN,
        )
        options = self._generate_options(
            call,
            prompt=prompt,
            model=model,
            style=style,
            size=size,
            quality=quality,
            metadata=metadata,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            cache=cache,
            idempotency_key=idempotency_key,
            wait=wait,
        )
        return await self._run_job(call, options, wait)

    async def _run_job(
        self, call: CallOptions, options: RequestOptions, wait: bool
    ) -> GenerationResponse | GenerationResult:
        """Send a job-creating POST; with ``wait``, follow a 202 to the end and return the
        finished generation (or raise its error), else return the job as answered."""
        generation = self._parse(GenerationResponse, await self._request(options))
        if not wait:
            return generation
        if not generation.is_terminal:
            generation = await self._wait(call.without_body(), generation.id, 0.5)
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
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
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
            cache=cache,
            idempotency_key=idempotency_key,
            wait=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )

    async def get_generation(
        self,
        generation_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse:
        """Fetch one generation (also a job's current status)."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="get_generation",
        )
        return await self._fetch_generation(call, generation_id)

    async def _fetch_generation(self, call: CallOptions, generation_id: str) -> GenerationResponse:
        options = self._get(call, f"/generations/{self._path_id(generation_id)}")
        return self._parse(GenerationResponse, await self._request(options))

    async def wait_for(
        self,
        generation_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        poll_interval: float = 0.5,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse:
        """Poll a job until it succeeds, fails or is canceled, and return it (without raising
        for a failed job). Raises :class:`APITimeoutError` (with ``generation_id``) once
        ``timeout`` seconds (default: the client's) have passed."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="wait_for",
        )
        return await self._wait(call, generation_id, poll_interval)

    async def _wait(self, call: CallOptions, generation_id: str, poll_interval: float) -> GenerationResponse:
        polls = 0
        while True:
            try:
                generation = await self._fetch_generation(call, generation_id)
            except APITimeoutError as exc:
                if exc.generation_id is None:  # the budget ran out mid-poll: say which job
                    raise self._job_timeout(generation_id, call) from exc
                raise
            if generation.is_terminal:
                return generation
            await self._sleep(self._poll_delay(polls, poll_interval, call, generation_id))
            polls += 1

    def stream_events(
        self,
        generation_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> AsyncIterator[GenerationEvent]:
        """Yield the job's events (queued → running with progress → a terminal status) as the
        server sends them; the iterator ends after the terminal event. ``timeout`` bounds the
        whole stream (reconnects included), counted from the first ``next()``."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="stream_events",
        )
        return self._events(call, generation_id)

    async def _events(self, call: CallOptions, generation_id: str) -> AsyncIterator[GenerationEvent]:
        call.deadline = self._deadline(call.budget)  # the stream starts when iteration does
        options = self._events_options(call, generation_id)
        reconnects = 0
        while True:
            try:
                response = await self._request(options)
            except APITimeoutError:
                self._check_stream_deadline(call, generation_id)  # the budget ran out: name the job
                raise
            decoder = SSEDecoder()
            dropped: Exception | None = None
            try:
                async for line in response.aiter_lines():
                    event = self._event_from_line(decoder, line, options)
                    if event is not None:
                        yield event
                        if event.is_terminal:
                            return
                    self._check_stream_deadline(call, generation_id)
                event = self._event_from_line(decoder, None, options)  # an unterminated last event
                if event is not None:
                    yield event
                    if event.is_terminal:
                        return
            except httpx.TransportError as exc:
                self._check_stream_deadline(call, generation_id)
                dropped = exc
            finally:
                await response.aclose()
            # The stream ended before the job did (a proxy cut it, or the server restarted):
            # reconnect; the server starts again with the job's current state.
            await self._sleep(self._reconnect_delay(call, generation_id, reconnects, dropped))
            reconnects += 1

    async def cancel(
        self,
        generation_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse:
        """Cancel a job that has not finished. Raises :class:`ConflictError` if it already has."""
        call = self._call_options(timeout, max_retries, extra_headers, extra_query, extra_body)
        options = self._post(
            call,
            f"/generations/{self._path_id(generation_id)}/cancel",
            None,
            idempotency_key=idempotency_key,
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
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> BatchResult:
        """Generate one image per prompt (``batch_size`` at a time on the server).

        Returns a :class:`BatchResult`: a list with one :class:`BatchItem` per prompt, in order.
        Items the server hands back still running are waited for; the whole call ends within
        ``timeout`` and ``wait_timeout`` (whichever is shorter). With ``raise_on_error=True``
        the first failed item's exception is raised instead.
        """
        call = self._call_options(
            timeout, max_retries, extra_headers, extra_query, extra_body, wait_timeout=wait_timeout
        )
        options = self._batch_options(
            call,
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
        )
        batch = self._parse(BatchResponse, await self._request(options))
        pending = self._pending_in_batch(batch)
        if pending:
            polls = call.without_body()
            # unasync: sync (one job after the other)
            # finished = {job_id: self._wait(polls, job_id, 0.5) for job_id in pending}
            # unasync: async (all jobs at once)
            jobs = await asyncio.gather(*(self._wait(polls, job_id, 0.5) for job_id in pending))
            finished = {job.id: job for job in jobs}
            # unasync: end
            batch = self._resolve_batch(batch, finished)
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
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> AsyncPage[GenerationResponse]:
        """Past generations, newest first. ``limit`` is the page size; iterating the returned
        page walks every later page lazily (``.data`` is just this page). Each page fetch is one
        call: ``timeout`` and the other per-call options apply to each."""
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

        def new_call() -> CallOptions:
            return self._call_options(
                timeout,
                max_retries,
                extra_headers,
                extra_query,
                extra_body,
                sends_body=False,
                method="get_generation_history",
            )

        return await self._history_page(params, cursor, new_call)

    async def _history_page(
        self, params: QueryParams, cursor: str | None, new_call: Callable[[], CallOptions]
    ) -> AsyncPage[GenerationResponse]:
        options = self._history_options(new_call(), params, cursor)
        listing = self._parse(GenerationList, await self._request(options))
        return AsyncPage(
            data=listing.data,
            has_more=listing.has_more,
            next_cursor=listing.next_cursor,
            cursor=cursor,
            fetch=lambda next_cursor: self._history_page(params, next_cursor, new_call),
        )

    # ---------------------------------------------------------------- image operations

    @overload
    async def edit(
        self,
        prompt: str,
        images: ImageInput | Sequence[ImageInput],
        *,
        mask: ImageInput | None = None,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        seed: int | None = None,
        background: Literal["transparent", "opaque", "auto"] | None = None,
        output_format: Literal["png", "jpeg", "webp"] | None = None,
        output_compression: int | None = None,
        moderation: Literal["low", "auto"] | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResult: ...

    @overload
    async def edit(
        self,
        prompt: str,
        images: ImageInput | Sequence[ImageInput],
        *,
        mask: ImageInput | None = None,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        seed: int | None = None,
        background: Literal["transparent", "opaque", "auto"] | None = None,
        output_format: Literal["png", "jpeg", "webp"] | None = None,
        output_compression: int | None = None,
        moderation: Literal["low", "auto"] | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[False],
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse: ...

    @overload
    async def edit(
        self,
        prompt: str,
        images: ImageInput | Sequence[ImageInput],
        *,
        mask: ImageInput | None = None,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        seed: int | None = None,
        background: Literal["transparent", "opaque", "auto"] | None = None,
        output_format: Literal["png", "jpeg", "webp"] | None = None,
        output_compression: int | None = None,
        moderation: Literal["low", "auto"] | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult: ...

    async def edit(
        self,
        prompt: str,
        images: ImageInput | Sequence[ImageInput],
        *,
        mask: ImageInput | None = None,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        seed: int | None = None,
        background: Literal["transparent", "opaque", "auto"] | None = None,
        output_format: Literal["png", "jpeg", "webp"] | None = None,
        output_compression: int | None = None,
        moderation: Literal["low", "auto"] | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult:
        """Edit images from a prompt (``POST /images/edits``); with ``mask``, only its transparent
        pixels are repainted. Returns the finished generation like :meth:`generate`.

        ``images`` is one input or a list of them; each input (and ``mask``) is a stored image
        (``gen_…``, or ``gen_…:N`` for its N-th image), an http(s) URL, a file path (``str`` or
        ``pathlib.Path``), the image's ``bytes`` or a binary file object. Ids and URLs go as JSON;
        any file or bytes make the body multipart/form-data. ``model`` defaults to the server's
        (``gpt-image-1``). Waiting, ``wait=False``, ``idempotency_key`` and the per-call options
        work as on :meth:`generate`. Bad arguments (no image, a blank prompt, a missing file, a
        number) raise ``ValueError``/``TypeError`` naming the field, before any request.
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            wait_timeout=wait_timeout if wait else NOT_GIVEN,
        )
        options = self._operation_options(
            call,
            "edit",
            images=images,
            mask=mask,
            fields={
                "prompt": prompt,
                "model": model,
                "n": n,
                "size": size,
                "quality": quality,
                "seed": seed,
                "background": background,
                "output_format": output_format,
                "output_compression": output_compression,
                "moderation": moderation,
                "metadata": metadata,
                "cache": cache,
            },
            idempotency_key=idempotency_key,
            wait=wait,
        )
        return await self._run_job(call, options, wait)

    @overload
    async def create_variation(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResult: ...

    @overload
    async def create_variation(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[False],
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse: ...

    @overload
    async def create_variation(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult: ...

    async def create_variation(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult:
        """More images like ``image`` (``POST /images/variations``, no prompt; ``model`` defaults
        to the server's, ``dall-e-2``). Inputs, waiting and options as in :meth:`edit`.
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            wait_timeout=wait_timeout if wait else NOT_GIVEN,
        )
        options = self._operation_options(
            call,
            "variation",
            images=image,
            fields={"model": model, "n": n, "size": size, "seed": seed, "metadata": metadata, "cache": cache},
            idempotency_key=idempotency_key,
            wait=wait,
        )
        return await self._run_job(call, options, wait)

    @overload
    async def upscale(
        self,
        image: ImageInput,
        *,
        factor: int | None = None,
        prompt: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResult: ...

    @overload
    async def upscale(
        self,
        image: ImageInput,
        *,
        factor: int | None = None,
        prompt: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[False],
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse: ...

    @overload
    async def upscale(
        self,
        image: ImageInput,
        *,
        factor: int | None = None,
        prompt: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult: ...

    async def upscale(
        self,
        image: ImageInput,
        *,
        factor: int | None = None,
        prompt: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult:
        """``image`` enlarged ``factor`` times (``POST /images/upscale``; ``model`` defaults to the
        server's, ``magnific-upscaler``; ``prompt`` is for creative upscalers). Inputs, waiting
        and options as in :meth:`edit`.
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            wait_timeout=wait_timeout if wait else NOT_GIVEN,
        )
        options = self._operation_options(
            call,
            "upscale",
            images=image,
            fields={"factor": factor, "prompt": prompt, "model": model, "metadata": metadata, "cache": cache},
            idempotency_key=idempotency_key,
            wait=wait,
        )
        return await self._run_job(call, options, wait)

    @overload
    async def remove_background(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResult: ...

    @overload
    async def remove_background(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[False],
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse: ...

    @overload
    async def remove_background(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult: ...

    async def remove_background(
        self,
        image: ImageInput,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult:
        """The subject of ``image`` on a transparent background, a PNG
        (``POST /images/remove-background``; ``model`` defaults to the server's,
        ``freepik-remove-background``). Inputs, waiting and options as in :meth:`edit`.
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            wait_timeout=wait_timeout if wait else NOT_GIVEN,
        )
        options = self._operation_options(
            call,
            "remove_background",
            images=image,
            fields={"model": model, "metadata": metadata, "cache": cache},
            idempotency_key=idempotency_key,
            wait=wait,
        )
        return await self._run_job(call, options, wait)

    @overload
    async def image_to_image(
        self,
        prompt: str,
        image: ImageInput,
        *,
        strength: float | None = None,
        negative_prompt: str | None = None,
        model: str | None = None,
        n: int | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[True] = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResult: ...

    @overload
    async def image_to_image(
        self,
        prompt: str,
        image: ImageInput,
        *,
        strength: float | None = None,
        negative_prompt: str | None = None,
        model: str | None = None,
        n: int | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: Literal[False],
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse: ...

    @overload
    async def image_to_image(
        self,
        prompt: str,
        image: ImageInput,
        *,
        strength: float | None = None,
        negative_prompt: str | None = None,
        model: str | None = None,
        n: int | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult: ...

    async def image_to_image(
        self,
        prompt: str,
        image: ImageInput,
        *,
        strength: float | None = None,
        negative_prompt: str | None = None,
        model: str | None = None,
        n: int | None = None,
        seed: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        cache: CacheOption | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> GenerationResponse | GenerationResult:
        """A new image from ``prompt`` guided by ``image`` (``POST /images/image-to-image``);
        ``strength`` from 0 (keep the image) to 1 (ignore it). ``model`` defaults to the
        server's, ``flux-kontext-pro``. Inputs, waiting and options as in :meth:`edit`.
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            wait_timeout=wait_timeout if wait else NOT_GIVEN,
        )
        options = self._operation_options(
            call,
            "image_to_image",
            images=image,
            fields={
                "prompt": prompt,
                "strength": strength,
                "negative_prompt": negative_prompt,
                "model": model,
                "n": n,
                "seed": seed,
                "metadata": metadata,
                "cache": cache,
            },
            idempotency_key=idempotency_key,
            wait=wait,
        )
        return await self._run_job(call, options, wait)

    # ---------------------------------------------------------------- catalog and usage

    async def list_models(
        self,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> list[ModelInfo]:
        """Every model in the catalog, with its capabilities, pricing and availability."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="list_models",
        )
        return self._parse(ModelList, await self._request(self._get(call, "/models"))).data

    async def get_model_info(
        self,
        name: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> ModelInfo:
        """One model; raises :class:`ModelNotAvailableError` for an unknown name."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="get_model_info",
        )
        options = self._get(call, f"/models/{self._path_id(name)}")
        return self._parse(ModelInfo, await self._request(options))

    async def get_usage_stats(
        self,
        start_date: str | date | datetime,
        end_date: str | date | datetime,
        group_by: str | None = None,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> UsageStats:
        """Usage and cost between two dates (inclusive), optionally grouped by ``model``,
        ``day``, ``key`` or ``metadata.<key>``."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="get_usage_stats",
        )
        options = self._get(call, "/usage", self._usage_params(start_date, end_date, group_by))
        return self._parse(UsageStats, await self._request(options))

    # ---------------------------------------------------------------- webhooks (admin scope)

    async def create_webhook(
        self,
        url: str,
        events: list[str] | tuple[str, ...] | None = None,
        description: str | None = None,
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookEndpointCreated:
        """Register an endpoint for this project's events (``events``: some of
        ``WEBHOOK_EVENTS``; default the ``generation.*`` ones). The answer's ``secret`` is shown
        only here: keep it to check deliveries with :func:`verify_webhook`."""
        call = self._call_options(timeout, max_retries, extra_headers, extra_query, extra_body)
        body = self._webhook_create_body(url, events, description)
        options = self._post(call, "/webhooks", body, idempotency_key=idempotency_key)
        return self._parse(WebhookEndpointCreated, await self._request(options))

    async def list_webhooks(
        self,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> list[WebhookEndpoint]:
        """This project's webhook endpoints."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="list_webhooks",
        )
        return self._parse(WebhookEndpointList, await self._request(self._get(call, "/webhooks"))).data

    async def get_webhook(
        self,
        webhook_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookEndpoint:
        """One endpoint; :class:`NotFoundError` when it is not this project's."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="get_webhook",
        )
        options = self._get(call, f"/webhooks/{self._path_id(webhook_id)}")
        return self._parse(WebhookEndpoint, await self._request(options))

    async def delete_webhook(
        self,
        webhook_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookEndpoint:
        """Remove an endpoint (its pending deliveries are dropped) and return it as it was."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="delete_webhook",
        )
        options = self._delete(call, f"/webhooks/{self._path_id(webhook_id)}")
        return self._parse(WebhookEndpoint, await self._request(options))

    async def list_webhook_deliveries(
        self,
        webhook_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookDeliveryList:
        """The endpoint's most recent deliveries, newest first (``.data``)."""
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="list_webhook_deliveries",
        )
        options = self._get(call, f"/webhooks/{self._path_id(webhook_id)}/deliveries")
        return self._parse(WebhookDeliveryList, await self._request(options))

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        enabled: bool | None = None,
        events: list[str] | tuple[str, ...] | None = None,
        description: str | NotGiven | None = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookEndpoint:
        """Pause (``enabled=False``: what it is still owed is canceled) or resume an endpoint
        (also after the server disabled it), or change its events or description (``None``
        clears it). What is left out stays."""
        call = self._call_options(timeout, max_retries, extra_headers, extra_query, extra_body)
        body = self._webhook_update_body(enabled, events, description)
        options = self._patch(call, f"/webhooks/{self._path_id(webhook_id)}", body)
        return self._parse(WebhookEndpoint, await self._request(options))

    async def pause_webhook(
        self,
        webhook_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookEndpoint:
        """Stop sending events to an endpoint (``update_webhook(id, enabled=False)``)."""
        return await self.update_webhook(
            webhook_id,
            enabled=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )

    async def resume_webhook(
        self,
        webhook_id: str,
        *,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookEndpoint:
        """Send events to an endpoint again (``update_webhook(id, enabled=True)``)."""
        return await self.update_webhook(
            webhook_id,
            enabled=True,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )

    async def send_test_webhook(
        self,
        webhook_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> WebhookDelivery:
        """Queue a signed ``webhook.test`` event for the endpoint and return its delivery; follow
        it with :meth:`list_webhook_deliveries`."""
        call = self._call_options(timeout, max_retries, extra_headers, extra_query, extra_body)
        path = f"/webhooks/{self._path_id(webhook_id)}/test"
        options = self._post(call, path, None, idempotency_key=idempotency_key)
        return self._parse(WebhookDelivery, await self._request(options))

    # ---------------------------------------------------------------- images

    async def download(
        self,
        image: DownloadSource,
        dest: str | os.PathLike[str],
        *,
        thumbnail: bool = False,
        overwrite: bool = False,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
    ) -> list[Path]:
        """Save images and return the files written, in image order.

        ``image`` is a generation (all its images), one ``ImageInfo`` or a URL. ``dest`` is a
        folder (an existing directory, or a path ending in ``/`` or without an extension; it is
        created) where each image is saved as ``<generation id>-<index>.<ext>``, or a file path
        with an extension for a single image. An existing file raises ``FileExistsError``
        unless ``overwrite=True``; nothing is fetched when a target is taken.
        """
        call = self._call_options(
            timeout,
            max_retries,
            extra_headers,
            extra_query,
            extra_body,
            sends_body=False,
            method="download",
        )
        planned = _files.plan(image, dest, thumbnail=thumbnail)
        for item in planned:
            if item.path is not None:
                _files.refuse_existing(item.path, overwrite)
        return [await self._download_one(call, item, overwrite) for item in planned]

    async def _download_one(self, call: CallOptions, item: _files.PlannedFile, overwrite: bool) -> Path:
        options = self._download_options(call, item.url)
        response = await self._request(options)
        try:
            path = item.resolve(response.headers.get("content-type"))
            _files.refuse_existing(path, overwrite)
            file, partial = _files.open_partial(path)
            try:
                with file:
                    async for chunk in response.aiter_bytes():
                        file.write(chunk)
                        self._check_download_deadline(options)
                _files.publish(partial, path, overwrite)  # never a truncated file under the name
            finally:
                partial.unlink(missing_ok=True)
        except httpx.TransportError as exc:
            raise self._connection_error(exc, options) from exc
        finally:
            await response.aclose()
        return path
