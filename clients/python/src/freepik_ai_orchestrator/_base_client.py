"""Everything the sync and async clients share, none of which does I/O.

Configuration, per-call options and budgets, request building (URL, headers, body, idempotency
key, timeouts cut to the budget), retry decisions and their logging, error mapping, response
parsing and job-polling arithmetic live here (download targets in ``_files``). The two concrete
clients only send, sleep and close.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import pydantic

from . import _retry
from ._inputs import Upload, form_text, resolve_input, resolve_inputs
from ._sse import ServerSentEvent, SSEDecoder
from ._types import NOT_GIVEN, CacheOption, NotGiven, TimeoutTypes
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
    GenerationResult,
    ResponseModel,
)

M = TypeVar("M", bound=ResponseModel)

log = logging.getLogger("freepik_ai_orchestrator")

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
"""The whole call, waiting for a generation included, is bounded by 600 s; connecting by 10 s."""
DEFAULT_MAX_CONNECTIONS = 20
DEFAULT_WAIT_TIMEOUT = 600.0
"""How long ``generate()`` waits for its job, counted from the start of the call."""
PREFER_WAIT_MARGIN = 0.5
"""Seconds kept between the server's sync wait (``Prefer: wait``) and the end of the budget, for
the 202 answer to travel back."""
API_PREFIX = "/api/v1"

QueryParams = list[tuple[str, str]]
FormParts = list[tuple[str, tuple[str | None, bytes | str] | tuple[str | None, bytes | str, str]]]
"""A multipart body in order: ``(field, (filename or None for a text part, content[, type]))``."""
Headers = Mapping[str, str]
Query = Mapping[str, object]
Body = Mapping[str, object]


@dataclass
class CallOptions:
    """What one public method call may spend, and what it adds to each of its requests."""

    deadline: float | None
    """Monotonic time at which the call must be over (``None``: no bound)."""
    budget: float | None
    """The seconds the deadline was set from, for error messages."""
    phases: httpx.Timeout
    """Per-request caps on the connect/read/write/pool phases, before cutting to the deadline."""
    max_retries: int
    extra_headers: dict[str, str] = field(default_factory=dict)
    extra_query: QueryParams = field(default_factory=list)
    extra_body: dict[str, Any] | None = None

    def without_body(self) -> CallOptions:
        """The same call for its follow-up GETs (polls): ``extra_body`` belongs to the POST."""
        return dataclasses.replace(self, extra_body=None)


@dataclass
class RequestOptions:
    """One HTTP request of a call; the same options are used for every attempt."""

    method: str
    url: str
    call: CallOptions
    params: QueryParams = field(default_factory=list)
    json_body: Any = None
    form: FormParts | None = None
    """A multipart/form-data body (instead of ``json_body``), rebuilt for every attempt."""
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    authenticated: bool = True
    stream: bool = False
    follow_redirects: bool = False
    prefer_wait: bool = False
    """Send ``Prefer: wait=N`` so the server answers (202) before the call's budget runs out."""

    @property
    def label(self) -> str:
        """``METHOD /path`` without host or query (signed URLs carry secrets in the query)."""
        return f"{self.method} {urlsplit(self.url).path}"


@dataclass
class _Capture:
    """Collects the first successful response of a call for ``with_raw_response``."""

    response: httpx.Response | None = None
    retries_taken: int = 0


_capture: ContextVar[_Capture | None] = ContextVar("freepik_ai_orchestrator_capture", default=None)


def _coerce_timeout(value: TimeoutTypes) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return httpx.Timeout(None)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(
            f"timeout must be a positive number of seconds, an httpx.Timeout or None, not {value!r}"
        )
    return httpx.Timeout(float(value), connect=min(float(value), DEFAULT_TIMEOUT.connect or 10.0))


def _check_max_retries(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"max_retries must be an int >= 0 (0 disables retries), not {value!r}")
    return value


def _cut(limit: float | None, remaining: float | None) -> float | None:
    if remaining is None:
        return limit
    return remaining if limit is None else min(limit, remaining)


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


def _check_cache(cache: object) -> None:
    """``cache`` is ``True``, ``False``, ``"always"`` or ``None`` (the key's default)."""
    if cache is not None and not isinstance(cache, bool) and cache != "always":
        raise ValueError(f'cache: must be true, false or "always", not {cache!r}')


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body with the unset (``None``) fields left out, so server defaults apply."""
    return {key: value for key, value in fields.items() if value is not None}


OPERATIONS: dict[str, tuple[str, str]] = {
    "edit": ("/images/edits", "images"),
    "variation": ("/images/variations", "image"),
    "upscale": ("/images/upscale", "image"),
    "remove_background": ("/images/remove-background", "image"),
    "image_to_image": ("/images/image-to-image", "image"),
}
"""Each image operation's path and the field of its input image(s)."""


def _prompt(prompt: object, required: bool) -> None:
    if prompt is None and not required:
        return
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, not {type(prompt).__name__}")
    if required and not prompt.strip():
        raise ValueError("prompt: must not be blank")


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
        _check_max_retries(max_retries)
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
        self.timeout = _coerce_timeout(timeout)
        if not (api_key or bearer_token):
            # Checked last, so a bad argument is reported as such even without a key.
            raise OrchestrationError(
                "no credentials: pass api_key='sk-...' (or bearer_token=...) or set the "
                "ORCHESTRATOR_API_KEY environment variable",
                code="missing_credentials",
            )
        token = api_key or bearer_token or ""
        if not token.isascii() or not token.isprintable() or token != token.strip():
            # A pasted placeholder ("sk-test-…") would otherwise fail deep inside httpx.
            which = "api_key" if api_key else "bearer_token"
            raise ValueError(f"{which} must be printable ASCII without spaces around it (a placeholder?)")
        self.api_key = api_key or None
        self.bearer_token = bearer_token or None
        self.max_retries = max_retries
        self.retry_backoff = float(retry_backoff)
        self.max_connections = max_connections
        self.keep_alive = keep_alive
        self.default_headers = dict(default_headers or {})
        # Seams for tests: wall clock (HTTP-date Retry-After), monotonic clock (deadlines)
        # and the jitter source.
        self._clock: Callable[[], float] = time.time
        self._monotonic: Callable[[], float] = time.monotonic
        self._random: Callable[[], float] = random.random

    def _copy_kwargs(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        bearer_token: str | None,
        timeout: TimeoutTypes | NotGiven,
        max_retries: int | NotGiven,
        retry_backoff: float | NotGiven,
        default_headers: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        """Constructor arguments for ``with_options``: this client's settings with ``changes``."""
        if api_key is not None and bearer_token is not None:
            raise ValueError("pass api_key or bearer_token, not both")
        if api_key is None and bearer_token is None:
            api_key, bearer_token = self.api_key, self.bearer_token
        return {
            "base_url": base_url or self.base_url,
            "api_key": api_key,
            "bearer_token": bearer_token,
            "timeout": self.timeout if isinstance(timeout, NotGiven) else timeout,
            "max_retries": self.max_retries if isinstance(max_retries, NotGiven) else max_retries,
            "retry_backoff": self.retry_backoff if isinstance(retry_backoff, NotGiven) else retry_backoff,
            "max_connections": self.max_connections,
            "keep_alive": self.keep_alive,
            "default_headers": {**self.default_headers, **(default_headers or {})},
        }

    def _share_seams(self, other: BaseClient) -> None:
        other._clock, other._monotonic, other._random = self._clock, self._monotonic, self._random

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

    def _call_options(
        self,
        timeout: TimeoutTypes | NotGiven,
        max_retries: int | NotGiven,
        extra_headers: Headers | None,
        extra_query: Query | None,
        extra_body: Body | None,
        *,
        wait_timeout: float | NotGiven | None = NOT_GIVEN,
        sends_body: bool = True,
        method: str = "",
    ) -> CallOptions:
        """Resolve one call's options; the deadline starts now."""
        phases = self.timeout if isinstance(timeout, NotGiven) else _coerce_timeout(timeout)
        budget = phases.read
        if not isinstance(wait_timeout, NotGiven) and wait_timeout is not None:
            if (
                isinstance(wait_timeout, bool)
                or not isinstance(wait_timeout, int | float)
                or not wait_timeout > 0
            ):
                raise ValueError(
                    f"wait_timeout must be a positive number of seconds or None, not {wait_timeout!r}"
                )
            budget = float(wait_timeout) if budget is None else min(budget, float(wait_timeout))
        if extra_body is not None and not sends_body:
            raise ValueError(f"extra_body: {method}() sends no request body (use extra_query)")
        return CallOptions(
            deadline=self._deadline(budget),
            budget=budget,
            phases=phases,
            max_retries=self.max_retries
            if isinstance(max_retries, NotGiven)
            else _check_max_retries(max_retries),
            extra_headers={str(k): str(v) for k, v in (extra_headers or {}).items()},
            extra_query=[(str(k), _query_value(v)) for k, v in (extra_query or {}).items()],
            extra_body=dict(extra_body) if extra_body is not None else None,
        )

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

    def _attempt_timeout(self, call: CallOptions) -> tuple[httpx.Timeout, float | None]:
        """This attempt's per-phase timeouts, each cut to what is left of the call's budget."""
        remaining = self._remaining(call.deadline)
        p = call.phases
        cut = httpx.Timeout(
            connect=_cut(p.connect, remaining),
            read=_cut(p.read, remaining),
            write=_cut(p.write, remaining),
            pool=_cut(p.pool, remaining),
        )
        return cut, remaining

    def _build_request(self, options: RequestOptions, retries_so_far: int) -> httpx.Request:
        timeout, remaining = self._attempt_timeout(options.call)
        headers: dict[str, str] = {
            "Accept": "text/event-stream"
            if options.stream and options.method == "GET"
            else "application/json",
            "User-Agent": f"freepik-ai-orchestrator-python/{__version__}",
            # Observability: which attempt this is, and how long the client will wait for it.
            "X-Request-Attempt": str(retries_so_far + 1),
        }
        if timeout.read is not None:
            headers["X-Client-Timeout"] = f"{round(timeout.read, 3):g}"
        if options.prefer_wait and remaining is not None:
            # RFC 7240: have the server hand back the job (202) before our budget runs out,
            # rather than hold the request past it. The server reads whole seconds.
            headers["Prefer"] = f"wait={max(0, math.floor(remaining - PREFER_WAIT_MARGIN))}"
        if options.authenticated:
            headers.update(self._auth_headers())
        if options.idempotency_key is not None:
            headers["Idempotency-Key"] = options.idempotency_key
        headers.update(self.default_headers)
        headers.update(options.headers)
        headers.update(options.call.extra_headers)
        params = [*options.params, *options.call.extra_query]
        return httpx.Request(
            options.method,
            options.url,
            params=tuple(params) if params else None,
            headers=headers,
            json=options.json_body,
            files=options.form,
            extensions={"timeout": timeout.as_dict()},
        )

    def _post(
        self,
        call: CallOptions,
        path: str,
        body: dict[str, Any] | None,
        *,
        idempotency_key: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> RequestOptions:
        if call.extra_body is not None:
            body = {**(body or {}), **call.extra_body}
        # One key per logical call, generated here once, so every retry of it reuses the key.
        return RequestOptions(
            "POST",
            self._url(path),
            call,
            json_body=body,
            headers=dict(headers or {}),
            idempotency_key=idempotency_key or self._new_idempotency_key(),
        )

    def _get(self, call: CallOptions, path: str, params: QueryParams | None = None) -> RequestOptions:
        return RequestOptions("GET", self._url(path), call, params=params or [])

    # ---------------------------------------------------------------- endpoint options

    def _generate_options(
        self,
        call: CallOptions,
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
        cache: CacheOption | None,
        idempotency_key: str | None,
        wait: bool,
    ) -> RequestOptions:
        _check_cache(cache)
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
            cache=cache,
        )
        options = self._post(call, "/generate", body, idempotency_key=idempotency_key)
        return self._job_post(options, wait)

    @staticmethod
    def _job_post(options: RequestOptions, wait: bool) -> RequestOptions:
        """A POST that creates a job: the server holds it within our budget (``Prefer: wait``),
        or answers 202 at once when the caller does not wait."""
        if wait:
            options.prefer_wait = True
        else:
            options.headers["Prefer"] = "respond-async"
        return options

    def _operation_options(
        self,
        call: CallOptions,
        operation: str,
        *,
        images: object,
        mask: object = None,
        fields: Mapping[str, Any],
        idempotency_key: str | None,
        wait: bool,
    ) -> RequestOptions:
        """The POST of an image operation: JSON when every input is an id or URL, else
        multipart/form-data with the texts as text parts in their place beside the files. Every
        argument is checked (and every file read) before anything is sent."""
        path, image_field = OPERATIONS[operation]
        _prompt(fields.get("prompt"), required=operation in ("edit", "image_to_image"))
        if images is None:
            raise ValueError(f"{image_field}: an input image is required")
        if operation == "edit":
            inputs = resolve_inputs("images", images)
        else:
            if isinstance(images, list | tuple):
                raise TypeError(f"{image_field}: {operation} takes one image, not a {type(images).__name__}")
            inputs = [resolve_input("image", images)]
        mask_input = None if mask is None else resolve_input("mask", mask)
        _check_cache(fields.get("cache"))
        body = _body(**fields)
        if "metadata" in body:
            body["metadata"] = dict(body["metadata"])
        if call.extra_body is not None:
            body = {**body, **call.extra_body}
        sent = [*inputs, *([] if mask_input is None else [mask_input])]
        if not any(isinstance(item, Upload) for item in sent):
            body[image_field] = inputs if operation == "edit" else inputs[0]
            if mask_input is not None:
                body["mask"] = mask_input
            options = self._post(call.without_body(), path, body, idempotency_key=idempotency_key)
            return self._job_post(options, wait)
        form: FormParts = [(name, (None, form_text(value))) for name, value in body.items()]
        parts = [(image_field, item) for item in inputs]
        if mask_input is not None:
            parts.append(("mask", mask_input))
        for name, item in parts:
            if isinstance(item, Upload):
                form.append((name, (item.filename, item.content, item.content_type)))
            else:
                form.append((name, (None, item)))
        options = self._post(call.without_body(), path, None, idempotency_key=idempotency_key)
        options.form = form
        return self._job_post(options, wait)

    def _batch_options(
        self,
        call: CallOptions,
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
        return self._post(call, "/generate/batch", body, idempotency_key=idempotency_key)

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

    def _history_options(self, call: CallOptions, params: QueryParams, cursor: str | None) -> RequestOptions:
        page_params = [p for p in params if p[0] != "cursor"]
        if cursor is not None:
            page_params.append(("cursor", cursor))
        return self._get(call, "/generations", page_params)

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

    def _events_options(self, call: CallOptions, generation_id: str) -> RequestOptions:
        options = self._get(call, f"/generations/{self._path_id(generation_id)}/events")
        options.stream = True
        return options

    def _webhook_create_body(
        self, url: str, events: list[str] | tuple[str, ...] | None, description: str | None
    ) -> dict[str, Any]:
        if not isinstance(url, str) or not url:
            raise ValueError("url must be the http(s) URL that receives the events")
        if isinstance(events, str):
            raise TypeError("events must be a list of event types, not a string")
        return _body(url=url, events=list(events) if events is not None else None, description=description)

    @staticmethod
    def _webhook_update_body(
        enabled: bool | None, events: list[str] | tuple[str, ...] | None, description: str | NotGiven | None
    ) -> dict[str, Any]:
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError("enabled must be True, False or None")
        if isinstance(events, str):
            raise TypeError("events must be a list of event types, not a string")
        body = _body(enabled=enabled, events=list(events) if events is not None else None)
        if not isinstance(description, NotGiven):
            body["description"] = description  # None clears it
        if not body:
            raise ValueError("update_webhook() needs enabled, events or description")
        return body

    def _patch(self, call: CallOptions, path: str, body: dict[str, Any]) -> RequestOptions:
        if call.extra_body is not None:
            body = {**body, **call.extra_body}
        return RequestOptions("PATCH", self._url(path), call, json_body=body)

    def _delete(self, call: CallOptions, path: str) -> RequestOptions:
        return RequestOptions("DELETE", self._url(path), call)

    def _download_options(self, call: CallOptions, url: str) -> RequestOptions:
        absolute = url if urlsplit(url).scheme else f"{self.base_url}/{url.lstrip('/')}"
        return RequestOptions(
            "GET",
            absolute,
            call,
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
        body: Any = None
        if response is not None:
            try:
                body = response.json()
            except (ValueError, UnicodeDecodeError):
                body = None
        return _retry.decide(
            retries_so_far=retries_so_far,
            max_retries=options.call.max_retries,
            retry_backoff=self.retry_backoff,
            status=None if response is None else response.status_code,
            headers=response.headers if response is not None else {},
            now=self._clock(),
            random_value=self._random(),
            body=body,
        )

    def _check_budget(self, options: RequestOptions) -> None:
        """Raise :class:`APITimeoutError` when the call has no time left for another request."""
        remaining = self._remaining(options.call.deadline)
        if remaining is not None and remaining <= 0:
            raise APITimeoutError(f"{options.label}: {self._budget_text(options.call)} ran out")

    @staticmethod
    def _budget_text(call: CallOptions) -> str:
        return f"the call's {call.budget:g} s timeout" if call.budget is not None else "the timeout"

    def _after_failure(
        self,
        options: RequestOptions,
        retries_so_far: int,
        response: httpx.Response | None,
        exc: Exception | None,
    ) -> float:
        """After a failed attempt: the seconds to wait before retrying, or raise the error when
        the retry rules say no or the wait would not fit in what is left of the call's budget."""
        decision = self._retry_decision(options, retries_so_far, response)
        if response is not None:
            error: OrchestrationError = self._status_error(response)
            reason = f"{response.status_code} {response.reason_phrase}".strip()
            if error.code:
                reason += f" ({error.code})"
        else:
            assert exc is not None
            error = self._connection_error(exc, options)
            reason = type(exc).__name__
        if decision.retry:
            remaining = self._remaining(options.call.deadline)
            if remaining is None or decision.delay < remaining:
                log.info(
                    "Retrying %s in %.1f s (attempt %d of %d): %s",
                    options.label,
                    decision.delay,
                    retries_so_far + 2,
                    options.call.max_retries + 1,
                    reason,
                )
                return decision.delay
            log.info(
                "Not retrying %s (%s): waiting %.1f s would exceed %s (%.1f s left)",
                options.label,
                reason,
                decision.delay,
                self._budget_text(options.call),
                remaining,
            )
        raise error from exc

    def _capture(self, response: httpx.Response, retries_so_far: int) -> None:
        """Hand the first successful response of a call to ``with_raw_response``, if it asks."""
        capture = _capture.get()
        if capture is not None and capture.response is None:
            capture.response = response
            capture.retries_taken = retries_so_far

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

    def _connection_error(self, exc: Exception, options: RequestOptions) -> APIConnectionError:
        # The label has no query string: signed download URLs must not end up in logs.
        where = options.label
        if isinstance(exc, httpx.TimeoutException):
            remaining = self._remaining(options.call.deadline)
            if remaining is not None and remaining <= 0.05:
                return APITimeoutError(f"{where}: {self._budget_text(options.call)} ran out")
            return APITimeoutError(f"request timed out: {where} ({type(exc).__name__})")
        return APIConnectionError(f"connection error: {where}: {type(exc).__name__}: {exc}")

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

    def _reconnect_delay(
        self, call: CallOptions, generation_id: str, reconnects: int, cause: Exception | None
    ) -> float:
        """Backoff before reopening an event stream that ended early, or raise
        :class:`APIConnectionError` once ``max_retries`` reconnects are spent (or
        :class:`APITimeoutError` when the wait does not fit in the call's budget)."""
        if reconnects >= call.max_retries:
            raise APIConnectionError(
                f"the event stream of {generation_id} ended before the job finished "
                f"({reconnects} reconnects); use wait_for() to poll it instead",
                generation_id=generation_id,
            ) from cause
        delay = _retry.backoff_delay(reconnects, self.retry_backoff, self._random())
        remaining = self._remaining(call.deadline)
        if remaining is not None and delay >= remaining:
            raise self._job_timeout(generation_id, call) from cause
        return delay

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
    def _finished(cls, generation: GenerationResponse) -> GenerationResult:
        """``generation`` if it succeeded; otherwise the exception the sync endpoint would raise."""
        if generation.status == "succeeded":
            return GenerationResult.from_generation(generation)
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

    def _job_timeout(self, generation_id: str, call: CallOptions) -> APITimeoutError:
        return APITimeoutError(
            f"generation {generation_id} did not finish within {self._budget_text(call)}; it keeps "
            "running on the server (wait_for() it again, or cancel() it)",
            generation_id=generation_id,
        )

    def _poll_delay(
        self, polls_so_far: int, poll_interval: float, call: CallOptions, generation_id: str
    ) -> float:
        """Seconds until the next status poll (growing to 4x ``poll_interval``), cut to the
        deadline; raise :class:`APITimeoutError` when the deadline has passed."""
        delay = min(poll_interval * (1.5**polls_so_far), poll_interval * 4)
        remaining = self._remaining(call.deadline)
        if remaining is None:
            return delay
        if remaining <= 0:
            raise self._job_timeout(generation_id, call)
        return min(delay, remaining)

    def _check_stream_deadline(self, call: CallOptions, generation_id: str) -> None:
        remaining = self._remaining(call.deadline)
        if remaining is not None and remaining <= 0:
            raise self._job_timeout(generation_id, call)

    def _check_download_deadline(self, options: RequestOptions) -> None:
        remaining = self._remaining(options.call.deadline)
        if remaining is not None and remaining <= 0:
            raise APITimeoutError(f"{options.label}: {self._budget_text(options.call)} ran out mid-download")
