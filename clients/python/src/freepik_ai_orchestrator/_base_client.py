"""Everything the sync and async clients share, none of which does I/O.

Configuration, request building (URL, headers, body, idempotency key, timeout), retry decisions,
error mapping, response parsing, job-polling arithmetic and download targets live here. The two
concrete clients only send, sleep and close.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import pydantic

from . import _retry
from ._sse import ServerSentEvent, SSEDecoder
from ._version import __version__
from .exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    OrchestrationError,
    exception_for_error,
)
from .models import (
    BatchError,
    BatchItem,
    BatchResponse,
    GenerationEvent,
    GenerationResponse,
    ImageInfo,
    ResponseModel,
)

M = TypeVar("M", bound=ResponseModel)

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
"""Long enough for a synchronous generation; the server answers 202 with the job before that."""
DEFAULT_MAX_CONNECTIONS = 20
DEFAULT_WAIT_TIMEOUT = 600.0
"""How long ``generate()`` waits for a job the server handed back unfinished (202)."""
EVENTS_READ_TIMEOUT = 300.0
"""Read timeout between two Server-Sent Events (the server sends keep-alives well within it)."""
API_PREFIX = "/api/v1"

TimeoutTypes = float | httpx.Timeout | None
QueryParams = list[tuple[str, str]]


@dataclass
class RequestOptions:
    """One logical API call; the same options are used for every attempt."""

    method: str
    url: str
    params: QueryParams = field(default_factory=list)
    json_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout | None = None
    idempotency_key: str | None = None
    authenticated: bool = True
    stream: bool = False
    follow_redirects: bool = False


def _coerce_timeout(value: TimeoutTypes) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return httpx.Timeout(None)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"timeout must be a positive number of seconds or httpx.Timeout, not {value!r}")
    return httpx.Timeout(float(value), connect=min(float(value), DEFAULT_TIMEOUT.connect or 10.0))


def _date_param(value: str | date | datetime, name: str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str (YYYY-MM-DD) or a date, not {type(value).__name__}")


def _time_param(value: str | date | datetime) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body with the unset (``None``) fields left out, so server defaults apply."""
    return {key: value for key, value in fields.items() if value is not None}


class BaseClient:
    """Configuration and I/O-free behaviour shared by both clients."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        bearer_token: str | None,
        timeout: TimeoutTypes,
        max_retries: int,
        retry_backoff: float,
        max_connections: int,
        keep_alive: bool,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        if api_key is not None and bearer_token is not None:
            raise ValueError("pass api_key or bearer_token, not both")
        if api_key is None and bearer_token is None:
            api_key = os.environ.get("ORCHESTRATOR_API_KEY") or None
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0 (0 disables retries), not {max_retries!r}")
        if (
            not isinstance(retry_backoff, int | float)
            or not math.isfinite(retry_backoff)
            or retry_backoff < 0
        ):
            raise ValueError(f"retry_backoff must be a number of seconds >= 0, not {retry_backoff!r}")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.base_url = self._normalize_base_url(
            base_url or os.environ.get("ORCHESTRATOR_BASE_URL") or DEFAULT_BASE_URL
        )
        self.api_key = api_key
        self.bearer_token = bearer_token
        self.timeout = _coerce_timeout(timeout)
        self.max_retries = max_retries
        self.retry_backoff = float(retry_backoff)
        self.max_connections = max_connections
        self.keep_alive = keep_alive
        self.default_headers = dict(default_headers or {})
        # Seams for tests: wall clock (HTTP-date Retry-After), monotonic clock (wait deadlines)
        # and the jitter source.
        self._clock: Callable[[], float] = time.time
        self._monotonic: Callable[[], float] = time.monotonic
        self._random: Callable[[], float] = random.random

    # ---------------------------------------------------------------- configuration helpers

    @staticmethod
    def _normalize_base_url(url: str) -> str:
        url = url.strip().rstrip("/")
        if url.endswith(API_PREFIX):  # tolerate a base URL that already names the API version
            url = url[: -len(API_PREFIX)]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, not {url!r}")
        return url

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_connections if self.keep_alive else 0,
        )

    def _url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def _timeout_for(self, timeout: TimeoutTypes) -> httpx.Timeout:
        """A per-call timeout, or the client's when ``None``."""
        return self.timeout if timeout is None else _coerce_timeout(timeout)

    @staticmethod
    def _new_idempotency_key() -> str:
        return str(uuid.uuid4())

    def _auth_headers(self) -> dict[str, str]:
        token = self.bearer_token or self.api_key
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    # ---------------------------------------------------------------- request building

    def _build_request(self, options: RequestOptions, retries_so_far: int) -> httpx.Request:
        timeout = options.timeout or self.timeout
        headers: dict[str, str] = {
            "Accept": "text/event-stream"
            if options.stream and options.method == "GET"
            else "application/json",
            "User-Agent": f"freepik-ai-orchestrator-python/{__version__}",
            # Observability: which attempt this is, and how long the client will wait for it.
            "X-Request-Attempt": str(retries_so_far + 1),
        }
        if timeout.read is not None:
            headers["X-Client-Timeout"] = f"{timeout.read:g}"
        if options.authenticated:
            headers.update(self._auth_headers())
        if options.idempotency_key is not None:
            headers["Idempotency-Key"] = options.idempotency_key
        headers.update(self.default_headers)
        headers.update(options.headers)
        return httpx.Request(
            options.method,
            options.url,
            params=tuple(options.params) if options.params else None,
            headers=headers,
            json=options.json_body,
            extensions={"timeout": timeout.as_dict()},
        )

    def _post(
        self,
        path: str,
        body: Any,
        *,
        idempotency_key: str | None,
        timeout: TimeoutTypes,
        headers: Mapping[str, str] | None = None,
    ) -> RequestOptions:
        # One key per logical call, generated here once, so every retry of it reuses the key.
        return RequestOptions(
            "POST",
            self._url(path),
            json_body=body,
            headers=dict(headers or {}),
            timeout=self._timeout_for(timeout),
            idempotency_key=idempotency_key or self._new_idempotency_key(),
        )

    def _get(self, path: str, params: QueryParams | None = None, *, timeout: TimeoutTypes) -> RequestOptions:
        return RequestOptions("GET", self._url(path), params=params or [], timeout=self._timeout_for(timeout))

    # ---------------------------------------------------------------- endpoint options

    def _generate_options(
        self,
        *,
        prompt: str,
        model: str,
        style: str | None,
        size: str | None,
        quality: str | None,
        metadata: Mapping[str, Any] | None,
        n: int | None,
        seed: int | None,
        negative_prompt: str | None,
        idempotency_key: str | None,
        timeout: TimeoutTypes,
        wait: bool,
    ) -> RequestOptions:
        body = _body(
            prompt=prompt,
            model=model,
            style=style,
            size=size,
            quality=quality,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            metadata=dict(metadata) if metadata is not None else None,
        )
        options = self._post("/generate", body, idempotency_key=idempotency_key, timeout=timeout)
        if not wait:
            options.headers["Prefer"] = "respond-async"
        elif options.timeout is not None and options.timeout.read is not None:
            # RFC 7240: ask the server to hand back the job (202) before our read timeout fires,
            # rather than have the connection cut and the call retried.
            options.headers["Prefer"] = f"wait={max(1, math.floor(options.timeout.read) - 1)}"
        return options

    def _batch_options(
        self,
        *,
        prompts: list[str],
        model: str,
        batch_size: int | None,
        style: str | None,
        size: str | None,
        quality: str | None,
        metadata: Mapping[str, Any] | None,
        n: int | None,
        seed: int | None,
        negative_prompt: str | None,
        idempotency_key: str | None,
        timeout: TimeoutTypes,
    ) -> RequestOptions:
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, not a single string")
        body = _body(
            prompts=list(prompts),
            model=model,
            batch_size=batch_size,
            style=style,
            size=size,
            quality=quality,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            metadata=dict(metadata) if metadata is not None else None,
        )
        return self._post("/generate/batch", body, idempotency_key=idempotency_key, timeout=timeout)

    def _history_params(
        self,
        *,
        limit: int | None,
        filter_by_model: str | None,
        model: str | None,
        status: str | None,
        since: str | date | datetime | None,
        until: str | date | datetime | None,
        metadata: Mapping[str, Any] | None,
        query: str | None,
    ) -> QueryParams:
        if filter_by_model is not None and model is not None and filter_by_model != model:
            raise ValueError("filter_by_model and model name the same filter; pass one of them")
        params: QueryParams = []
        if limit is not None:
            params.append(("limit", str(limit)))
        if (filter_by_model or model) is not None:
            params.append(("model", str(filter_by_model or model)))
        if status is not None:
            params.append(("status", status))
        if since is not None:
            params.append(("since", _time_param(since)))
        if until is not None:
            params.append(("until", _time_param(until)))
        if query is not None:
            params.append(("q", query))
        for key, value in (metadata or {}).items():
            params.append((f"metadata.{key}", _query_value(value)))
        return params

    def _history_options(
        self, params: QueryParams, cursor: str | None, timeout: TimeoutTypes
    ) -> RequestOptions:
        page_params = [p for p in params if p[0] != "cursor"]
        if cursor is not None:
            page_params.append(("cursor", cursor))
        return self._get("/generations", page_params, timeout=timeout)

    def _usage_params(
        self, start_date: str | date | datetime, end_date: str | date | datetime, group_by: str | None
    ) -> QueryParams:
        params = [
            ("start_date", _date_param(start_date, "start_date")),
            ("end_date", _date_param(end_date, "end_date")),
        ]
        if group_by is not None:
            params.append(("group_by", group_by))
        return params

    def _events_options(self, generation_id: str, timeout: TimeoutTypes) -> RequestOptions:
        options = self._get(f"/generations/{self._path_id(generation_id)}/events", timeout=timeout)
        if timeout is None:
            base = self.timeout
            options.timeout = httpx.Timeout(
                connect=base.connect,
                read=max(base.read or 0.0, EVENTS_READ_TIMEOUT),
                write=base.write,
                pool=base.pool,
            )
        options.stream = True
        return options

    def _download_options(self, url: str, timeout: TimeoutTypes) -> RequestOptions:
        absolute = url if urlsplit(url).scheme else f"{self.base_url}/{url.lstrip('/')}"
        return RequestOptions(
            "GET",
            absolute,
            timeout=self._timeout_for(timeout),
            # Signed URLs need no credentials; never hand our key to another host (CDN, S3).
            authenticated=self._same_origin(absolute),
            stream=True,
            follow_redirects=True,
        )

    @staticmethod
    def _path_id(value: str) -> str:
        if not value:
            raise ValueError("an id or name is required")
        return quote(value, safe="")

    # ---------------------------------------------------------------- responses and errors

    def _retry_decision(
        self, options: RequestOptions, retries_so_far: int, response: httpx.Response | None
    ) -> _retry.RetryDecision:
        del options  # every request we build is replayable (JSON bodies); kept for future bodies
        body: Any = None
        if response is not None:
            try:
                body = response.json()
            except (ValueError, UnicodeDecodeError):
                body = None
        return _retry.decide(
            retries_so_far=retries_so_far,
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            status=None if response is None else response.status_code,
            headers=response.headers if response is not None else {},
            now=self._clock(),
            random_value=self._random(),
            body=body,
        )

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        """The exception for an error response whose body has been read."""
        try:
            body: Any = response.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        return exception_for_error(
            response.status_code,
            body,
            response.headers,
            retry_after=_retry.parse_retry_after(response.headers, self._clock()),
            text=None if body is not None else response.text,
        )

    @staticmethod
    def _connection_error(exc: Exception, options: RequestOptions) -> APIConnectionError:
        where = f"{options.method} {options.url}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"request timed out: {where} ({type(exc).__name__})")
        return APIConnectionError(f"connection error: {where}: {exc or type(exc).__name__}")

    @staticmethod
    def _parse(cls: type[M], response: httpx.Response) -> M:
        try:
            obj = cls.model_validate(response.json())
        except (ValueError, pydantic.ValidationError) as exc:
            raise OrchestrationError(
                f"unexpected response body for {cls.__name__}: {exc}",
                status_code=response.status_code,
                request_id=response.headers.get("x-request-id"),
                headers=response.headers,
            ) from exc
        BaseClient._attach_meta(obj, response)
        return obj

    @staticmethod
    def _attach_meta(obj: ResponseModel, response: httpx.Response) -> None:
        obj._request_id = response.headers.get("x-request-id")
        obj._idempotent_replayed = response.headers.get("idempotent-replayed", "").lower() == "true"

    def _event_from_line(
        self, decoder: SSEDecoder, line: str | None, options: RequestOptions
    ) -> GenerationEvent | None:
        """Feed one SSE line (``None`` at the end of the stream); return the generation event it
        completes, if any. Remembers the event id so a reconnect can send ``Last-Event-ID``."""
        sse = decoder.flush() if line is None else decoder.feed(line)
        if sse is None:
            return None
        if sse.id:
            options.headers["Last-Event-ID"] = sse.id
        return self._event_from_sse(sse)

    def _reconnect_delay(self, generation_id: str, reconnects: int, cause: Exception | None) -> float:
        """Backoff before reopening an event stream that ended early, or raise
        :class:`APIConnectionError` once ``max_retries`` reconnects are spent."""
        if reconnects >= self.max_retries:
            raise APIConnectionError(
                f"the event stream of {generation_id} ended before the job finished "
                f"({reconnects} reconnects); use wait_for() to poll it instead",
                generation_id=generation_id,
            ) from cause
        return _retry.backoff_delay(reconnects, self.retry_backoff, self._random())

    @staticmethod
    def _event_from_sse(sse: ServerSentEvent) -> GenerationEvent | None:
        """A generation event, or ``None`` for events that carry no generation (pings)."""
        if not sse.data:
            return None
        try:
            payload = json.loads(sse.data)
        except ValueError:
            return None
        if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping) and "id" not in payload:
            raise exception_for_error(None, payload)
        try:
            generation = GenerationResponse.model_validate(payload)
        except pydantic.ValidationError:
            return None
        return GenerationEvent(event=sse.event, data=generation, id=sse.id)

    @staticmethod
    def _failure(generation: GenerationResponse) -> dict[str, Any]:
        """The error object the synchronous endpoint would answer for a failed/canceled job."""
        if generation.status == "canceled":
            error: dict[str, Any] = {
                "type": "invalid_request_error",
                "code": "generation_canceled",
                "message": f"generation {generation.id} was canceled",
            }
        else:
            error = generation.error.model_dump(exclude_none=True) if generation.error else {}
            error.setdefault("message", f"generation {generation.id} {generation.status}")
        error.setdefault("generation_id", generation.id)
        error.setdefault("request_id", generation._request_id)
        return error

    @classmethod
    def _finished(cls, generation: GenerationResponse) -> GenerationResponse:
        """``generation`` if it succeeded; otherwise the exception the sync endpoint would raise."""
        if generation.status == "succeeded":
            return generation
        raise exception_for_error(None, {"error": cls._failure(generation)})

    @staticmethod
    def _pending_in_batch(batch: BatchResponse) -> list[str]:
        """Jobs of a batch still running when the server's wait ran out."""
        return [
            item.generation.id
            for item in batch.data
            if item.generation is not None and not item.generation.is_terminal
        ]

    @classmethod
    def _resolve_batch(
        cls, batch: BatchResponse, finished: Mapping[str, GenerationResponse]
    ) -> BatchResponse:
        """``batch`` with its pending items replaced by their finished jobs, totals recomputed."""
        items: list[BatchItem] = []
        for item in batch.data:
            job = finished.get(item.generation.id) if item.generation is not None else None
            if job is None:
                items.append(item)
            elif job.status == "succeeded":
                items.append(
                    item.model_copy(update={"status": "succeeded", "generation": job, "error": None})
                )
            else:
                error = BatchError.model_validate(cls._failure(job))
                items.append(item.model_copy(update={"status": "failed", "generation": job, "error": error}))
        costs = [i.generation.cost for i in items if i.ok and i.generation is not None]
        resolved = batch.model_copy(
            update={
                "data": items,
                "succeeded": sum(i.ok for i in items),
                "failed": sum(not i.ok for i in items),
                "total_cost": None
                if any(c is None for c in costs)
                else round(sum(c or 0.0 for c in costs), 6),
            }
        )
        resolved._request_id = batch._request_id
        return resolved

    # ---------------------------------------------------------------- waiting for jobs

    def _deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else self._monotonic() + timeout

    def _remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else max(0.0, deadline - self._monotonic())

    def _poll_delay(
        self, polls_so_far: int, poll_interval: float, deadline: float | None, generation_id: str
    ) -> float:
        """Seconds until the next status poll (growing to 4x ``poll_interval``), or raise
        :class:`APITimeoutError` when the deadline has passed."""
        delay = min(poll_interval * (1.5**polls_so_far), poll_interval * 4)
        if deadline is None:
            return delay
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise APITimeoutError(
                f"generation {generation_id} did not finish in time; it keeps running on the server "
                "(wait_for() it again, or cancel() it)",
                generation_id=generation_id,
            )
        return min(delay, remaining)

    # ---------------------------------------------------------------- downloads

    @staticmethod
    def _download_url(target: str | GenerationResponse | ImageInfo, thumbnail: bool) -> str:
        if isinstance(target, str):
            return target
        if isinstance(target, ImageInfo):
            url = target.thumbnail_url if thumbnail else target.url
        else:
            url = target.thumbnail_url if thumbnail else target.image_url
        if not url:
            what = "thumbnail_url" if thumbnail else "image URL"
            raise ValueError(
                f"{type(target).__name__} has no {what} (status: {getattr(target, 'status', '?')})"
            )
        return url

    @staticmethod
    def _download_path(url: str, path: str | os.PathLike[str], content_type: str | None) -> Path:
        destination = Path(path)
        if destination.is_dir():
            name = Path(urlsplit(url).path).name or "image"
            if not Path(name).suffix:
                name += _suffix_for(content_type)
            destination = destination / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        return destination


def _suffix_for(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    return {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}.get(
        kind, ""
    )
