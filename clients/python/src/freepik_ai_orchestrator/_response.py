"""``client.with_raw_response``: the HTTP response behind a call, next to its parsed result.

``client.with_raw_response.generate(...)`` runs the call exactly as ``client.generate(...)`` does
(retries, waiting for the job, errors) and returns an :class:`APIResponse` holding the first
successful HTTP response of the call (for ``generate()`` the answer to the POST: 200, or 202 when
the job was handed back and then waited for) and the parsed result, which ``parse()`` returns.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

import httpx

from ._base_client import _Capture, _capture

if TYPE_CHECKING:
    from ._async_client import AsyncOrchestrationClient
    from ._client import OrchestrationClient

__all__ = ["APIResponse", "AsyncOrchestrationClientWithRawResponse", "OrchestrationClientWithRawResponse"]

P = ParamSpec("P")
R = TypeVar("R")


class APIResponse(Generic[R]):
    """The raw HTTP response of a call, and what the call returned (``parse()``)."""

    def __init__(self, http_response: httpx.Response, parsed: R, retries_taken: int) -> None:
        self.http_response = http_response
        self.retries_taken = retries_taken
        """How many retries the request needed (0 when the first attempt succeeded)."""
        self._parsed = parsed

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-ID``: quote it when reporting a problem."""
        value: str | None = self.http_response.headers.get("x-request-id")
        return value

    @property
    def url(self) -> httpx.URL:
        return self.http_response.url

    @property
    def method(self) -> str:
        return self.http_response.request.method

    @property
    def elapsed(self) -> float:
        """Seconds from sending the request to receiving the response headers."""
        try:
            return self.http_response.elapsed.total_seconds()
        except RuntimeError:  # a streamed response that was never fully read
            return 0.0

    def parse(self) -> R:
        """What the method itself returns (a :class:`GenerationResponse`, a page, paths...)."""
        return self._parsed

    def __repr__(self) -> str:
        parsed = type(self._parsed).__name__
        return f"<APIResponse [{self.status_code}] {self.method} {self.url.path} -> {parsed}>"


def _no_response() -> RuntimeError:
    return RuntimeError("the call completed without an HTTP response to report")


def _wrap(method: Callable[P, R]) -> Callable[P, APIResponse[R]]:
    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        capture = _Capture()
        token = _capture.set(capture)
        try:
            parsed = method(*args, **kwargs)
        finally:
            _capture.reset(token)
        if capture.response is None:
            raise _no_response()
        return APIResponse(capture.response, parsed, capture.retries_taken)

    return wrapped


def _wrap_async(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[APIResponse[R]]]:
    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        capture = _Capture()
        token = _capture.set(capture)
        try:
            parsed = await method(*args, **kwargs)
        finally:
            _capture.reset(token)
        if capture.response is None:
            raise _no_response()
        return APIResponse(capture.response, parsed, capture.retries_taken)

    return wrapped


class OrchestrationClientWithRawResponse:
    """Every method of :class:`OrchestrationClient` except ``stream_events``, returning an
    :class:`APIResponse` instead of the parsed object."""

    def __init__(self, client: OrchestrationClient) -> None:
        self.generate = _wrap(client.generate)
        self.submit = _wrap(client.submit)
        self.get_generation = _wrap(client.get_generation)
        self.wait_for = _wrap(client.wait_for)
        self.cancel = _wrap(client.cancel)
        self.generate_batch = _wrap(client.generate_batch)
        self.edit = _wrap(client.edit)
        self.create_variation = _wrap(client.create_variation)
        self.upscale = _wrap(client.upscale)
        self.remove_background = _wrap(client.remove_background)
        self.image_to_image = _wrap(client.image_to_image)
        self.get_generation_history = _wrap(client.get_generation_history)
        self.list_models = _wrap(client.list_models)
        self.get_model_info = _wrap(client.get_model_info)
        self.get_usage_stats = _wrap(client.get_usage_stats)
        self.download = _wrap(client.download)
        self.create_webhook = _wrap(client.create_webhook)
        self.list_webhooks = _wrap(client.list_webhooks)
        self.get_webhook = _wrap(client.get_webhook)
        self.delete_webhook = _wrap(client.delete_webhook)
        self.list_webhook_deliveries = _wrap(client.list_webhook_deliveries)
        self.update_webhook = _wrap(client.update_webhook)
        self.pause_webhook = _wrap(client.pause_webhook)
        self.resume_webhook = _wrap(client.resume_webhook)
        self.send_test_webhook = _wrap(client.send_test_webhook)


class AsyncOrchestrationClientWithRawResponse:
    """Every method of :class:`AsyncOrchestrationClient` except ``stream_events``, returning an
    :class:`APIResponse` instead of the parsed object."""

    def __init__(self, client: AsyncOrchestrationClient) -> None:
        self.generate = _wrap_async(client.generate)
        self.submit = _wrap_async(client.submit)
        self.get_generation = _wrap_async(client.get_generation)
        self.wait_for = _wrap_async(client.wait_for)
        self.cancel = _wrap_async(client.cancel)
        self.generate_batch = _wrap_async(client.generate_batch)
        self.edit = _wrap_async(client.edit)
        self.create_variation = _wrap_async(client.create_variation)
        self.upscale = _wrap_async(client.upscale)
        self.remove_background = _wrap_async(client.remove_background)
        self.image_to_image = _wrap_async(client.image_to_image)
        self.get_generation_history = _wrap_async(client.get_generation_history)
        self.list_models = _wrap_async(client.list_models)
        self.get_model_info = _wrap_async(client.get_model_info)
        self.get_usage_stats = _wrap_async(client.get_usage_stats)
        self.download = _wrap_async(client.download)
        self.create_webhook = _wrap_async(client.create_webhook)
        self.list_webhooks = _wrap_async(client.list_webhooks)
        self.get_webhook = _wrap_async(client.get_webhook)
        self.delete_webhook = _wrap_async(client.delete_webhook)
        self.list_webhook_deliveries = _wrap_async(client.list_webhook_deliveries)
        self.update_webhook = _wrap_async(client.update_webhook)
        self.pause_webhook = _wrap_async(client.pause_webhook)
        self.resume_webhook = _wrap_async(client.resume_webhook)
        self.send_test_webhook = _wrap_async(client.send_test_webhook)
