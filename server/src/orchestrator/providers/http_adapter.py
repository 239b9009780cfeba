"""The one base every HTTP provider adapter is built on.

An adapter subclasses :class:`HttpAdapter` and keeps only what is particular to its provider: the
wire format of its requests, how its credential is presented (``auth_header``, ``auth_scheme``),
how its error bodies read (:meth:`HttpAdapter._describe_error`) and what its task states mean.
Everything else is here, once: the name, display name and credential (a ``SecretStr``, exposed
only when a request is built), sending a request bounded by the job's deadline, mapping error
responses onto :class:`ProviderErrorKind`, polling an upstream task while riding out transient
errors, cancelling upstream work nobody will collect, and downloading result images.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import httpx
from pydantic import SecretStr

from orchestrator.providers import _http
from orchestrator.providers.base import (
    Operation,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderInput,
    ProviderRequest,
)
from orchestrator.providers.registry import PROVIDERS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a provider's error body says: its text, its own code, and a kind when the status
    alone would classify it wrongly (a refusal, a billing failure)."""

    message: str
    code: str | None = None
    kind: ProviderErrorKind | None = None


class HttpAdapter:
    """Base of the HTTP provider adapters: one instance per process on the shared client."""

    name: str
    """The provider's name in routes, metrics and errors (``"openai"``)."""
    display: ClassVar[str]
    """The provider's human name in error messages (``"OpenAI"``)."""
    default_base_url: ClassVar[str]
    auth_header: ClassVar[str] = "Authorization"
    """The header that carries the credential (the constructor's ``auth_header`` overrides it)."""
    auth_scheme: ClassVar[str] = "Bearer"
    """Put before the credential in ``auth_header``; empty: the header holds the bare credential."""
    credential_setting: ClassVar[str | None] = None
    """The setting an operator fixes when the provider rejects the credential; by default the one
    that enables the provider in :data:`~orchestrator.providers.registry.PROVIDERS`."""
    poll_interval: ClassVar[float] = 0.5
    max_poll_interval: ClassVar[float] = 3.0
    max_poll_errors: ClassVar[int] = 5
    """Consecutive transient failures of a status poll ridden out before giving up: the upstream
    task exists and is billed, so a blip must not abandon it, but a dead provider must end."""
    cancel_budget: ClassVar[float] = 5.0
    """Seconds granted to a best-effort upstream cancel sent after our own deadline has passed."""
    operations: ClassVar[frozenset[Operation]] = frozenset({Operation.GENERATE})
    """The operations this adapter implements; any other is refused by :meth:`_check_operation`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        credential: SecretStr | None,
        base_url: str | None = None,
        auth_header: str | None = None,
        headers: Mapping[str, str] | None = None,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        max_poll_errors: int | None = None,
    ) -> None:
        self._client = client
        self._credential = credential
        self._base = self._normalise_base(base_url or self.default_base_url)
        self._auth_header = auth_header or self.auth_header
        self._headers = dict(headers or {})
        """Sent with every API request besides the credential (e.g. ``OpenAI-Organization``)."""
        self._poll_interval = self.poll_interval if poll_interval is None else poll_interval
        self._max_poll_interval = self.max_poll_interval if max_poll_interval is None else max_poll_interval
        self._max_poll_errors = self.max_poll_errors if max_poll_errors is None else max_poll_errors
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def configured(
        cls, client: httpx.AsyncClient, credential: SecretStr | None, base_url: str, **options: Any
    ) -> Self | None:
        """The adapter on ``base_url`` with ``credential``, or ``None`` when no credential is set."""
        return (
            None if credential is None else cls(client, credential=credential, base_url=base_url, **options)
        )

    def __repr__(self) -> str:  # never shows the credential
        return f"{type(self).__name__}(base_url={self._base!r})"

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner; only wait for pending cancels."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # ------------------------------------------------------------------ provider-specific hooks

    def _auth_headers(self, secret: str | None) -> dict[str, str]:
        """The headers that present ``secret``: ``auth_header: auth_scheme secret`` by default."""
        if secret is None:
            return {}
        return {self._auth_header: f"{self.auth_scheme} {secret}" if self.auth_scheme else secret}

    @classmethod
    def _normalise_base(cls, base_url: str) -> str:
        """The configured base URL as paths are appended to it."""
        return base_url.rstrip("/")

    def _describe_error(self, response: httpx.Response) -> ErrorInfo:
        """Read the provider's error body; the default takes the body's first 300 characters."""
        return ErrorInfo(response.text[:300])

    # ------------------------------------------------------------------ requests

    @property
    def _secret(self) -> str | None:
        return self._credential.get_secret_value() if self._credential is not None else None

    @property
    def _setting(self) -> str:
        return self.credential_setting or PROVIDERS[self.name].credential

    async def _send(
        self,
        method: str,
        path: str,
        deadline: float | None,
        *,
        headers: dict[str, str] | None = None,
        polling: bool = False,
        on_line: Callable[[str], Awaitable[None]] | None = None,
        **content: Any,
    ) -> httpx.Response:
        """Send ``method path`` (relative to the base URL) with the credential, bounded by
        ``deadline``; an error status raises its classified :class:`ProviderError`.

        ``content`` is passed to ``httpx`` (``json=``, ``data=``, ``files=``). URLs are always built
        from the configured base, never from one a provider returned, so the credential only ever
        goes to the host the operator configured. ``on_line`` receives a Server-Sent Events answer
        line by line (see :func:`_http.send`).
        """
        request = self._client.build_request(
            method,
            self._base + path,
            headers={**self._auth_headers(self._secret), **(headers or {})},
            **content,
        )
        response = await _http.send(
            self._client, request, provider=self.name, deadline=deadline, on_line=on_line
        )
        if response.status_code >= 400:
            raise self._error(response, polling=polling)
        return response

    async def _call(
        self, method: str, path: str, deadline: float | None, *, json: Any = None, polling: bool = False
    ) -> Any:
        """:meth:`_send` a JSON request and decode the JSON answer (``None`` for an empty body)."""
        response = await self._send(
            method, path, deadline, json=json, polling=polling, headers={"Accept": "application/json"}
        )
        if not response.content.strip():
            return None
        return _http.json_body(response, provider=self.name, display=self.display)

    # ------------------------------------------------------------------ errors

    def _error(self, response: httpx.Response, *, polling: bool = False) -> ProviderError:
        """Classify an error response through :meth:`_describe_error`."""
        info = self._describe_error(response)
        kind = info.kind
        if kind is None and polling and response.status_code == 404:
            # A task we created is not found: lost on the provider's side; a new one may succeed.
            kind = ProviderErrorKind.RETRYABLE
        return _http.status_error(
            self.name,
            self.display,
            response,
            info.message,
            code=info.code,
            kind=kind,
            credential=self._setting,
            secret=self._secret,
        )

    def _malformed(self, what: str) -> ProviderError:
        """A success whose body does not have the shape the provider documents."""
        return _http.malformed(self.name, self.display, what)

    def _refused(self, why: str, code: str, status_code: int | None = None) -> ProviderError:
        """The provider's safety system refused: never retried, never sent elsewhere."""
        return self._fail(
            ProviderErrorKind.CONTENT_POLICY, f"{self.display} refused the request: {why}", code, status_code
        )

    @classmethod
    def _fail(
        cls, kind: ProviderErrorKind, message: str, code: str, status_code: int | None = None
    ) -> ProviderError:
        """A failure the adapter itself classifies (a task state, a refusal, a bad route)."""
        return ProviderError(kind, message, provider=cls.name, status_code=status_code, provider_code=code)

    # ------------------------------------------------------------------ operations

    def _check_operation(self, request: ProviderRequest, allowed: frozenset[Operation] | None = None) -> None:
        """Refuse an operation this adapter (or this route model, ``allowed``) does not implement,
        so it never silently generates from the prompt alone."""
        supported = self.operations if allowed is None else allowed
        if request.operation not in supported:
            names = ", ".join(sorted(op.value for op in supported)) or "none"
            raise self._fail(
                ProviderErrorKind.INVALID_REQUEST,
                f"{self.display} route {request.provider_model!r} does not support the "
                f"{request.operation.value!r} operation (it supports: {names})",
                "unsupported_operation",
            )
        if request.operation is not Operation.GENERATE and not request.images:
            raise self._fail(
                ProviderErrorKind.INVALID_REQUEST,
                f"the {request.operation.value!r} operation needs an input image",
                "missing_image",
            )

    @staticmethod
    def _data_uri(image: ProviderInput) -> str:
        """``image`` as a ``data:`` URI (fal and Replicate accept these wherever a URL is asked)."""
        return _http.data_uri(image.data, image.content_type)

    # ------------------------------------------------------------------ polling and cancelling

    async def _poll(
        self,
        fetch: Callable[[], Awaitable[Any]],
        step: Callable[[Any], Awaitable[T | None]],
        deadline: float | None,
    ) -> T:
        """Fetch the task's state until ``step`` returns a result, with capped backoff.

        Transient fetch failures (``RETRYABLE``) are ridden out, honouring ``Retry-After``, up to
        ``max_poll_errors`` in a row; anything ``step`` raises ends the wait.
        """
        errors = 0

        async def check() -> T | None:
            nonlocal errors
            try:
                current = await fetch()
            except ProviderError as exc:
                errors += 1
                if exc.kind is not ProviderErrorKind.RETRYABLE or errors > self._max_poll_errors:
                    raise
                await _http.pause_for_retry_after(exc.retry_after, deadline)
                return None
            errors = 0
            return await step(current)

        return await _http.poll_until(
            check,
            provider=self.name,
            deadline=deadline,
            interval=self._poll_interval,
            max_interval=self._max_poll_interval,
        )

    async def _cancelling_on_abandon(
        self, wait: Awaitable[T], cancel: Callable[[float], Coroutine[Any, Any, Any]]
    ) -> T:
        """Await ``wait``; when our deadline passes or the job is cancelled, ``cancel`` the upstream
        task (best effort, with its own small budget) so it stops billing."""
        try:
            return await wait
        except ProviderError as exc:
            if exc.kind is ProviderErrorKind.TIMEOUT:
                await self._best_effort(cancel)
            raise
        except asyncio.CancelledError:
            # Our caller gave up: cancel in the background, the caller's cancellation goes on.
            task = asyncio.get_running_loop().create_task(self._best_effort(cancel))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            raise

    async def _best_effort(self, cancel: Callable[[float], Coroutine[Any, Any, Any]]) -> None:
        # Failures are ignored: nothing more can be done, and the provider's own timeout ends it.
        with contextlib.suppress(ProviderError):
            await cancel(time.monotonic() + self.cancel_budget)

    # ------------------------------------------------------------------ images

    async def _download_all(self, urls: list[str], deadline: float | None) -> list[ProviderImage]:
        """Download every result URL concurrently (without the credential); the first failure
        cancels the rest."""
        return await self._gather(
            [_http.download_image(self._client, url, deadline, provider=self.name) for url in urls]
        )

    def _decode_b64(self, payload: str) -> ProviderImage:
        return _http.decode_b64_image(payload, provider=self.name, display=self.display)

    @staticmethod
    async def _gather(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
        """Run ``coros`` concurrently; the first :class:`ProviderError` cancels the rest and is raised."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(coro) for coro in coros]
        except* ProviderError as failures:
            raise failures.exceptions[0] from None
        return [task.result() for task in tasks]
