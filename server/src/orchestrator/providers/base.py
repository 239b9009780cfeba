"""The small interface every provider adapter implements.

Adapters translate one :class:`ProviderRequest` into their provider's wire format, wait for the
result (polling where the provider is asynchronous) and return image bytes. They know nothing of
the database, storage or pricing; they classify every failure as a :class:`ProviderError`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ProgressCallback = Callable[[float], Awaitable[None]]
"""Called with a fraction in [0, 1] as the provider reports progress."""


class Operation(enum.StrEnum):
    """What a job does. Text to image is ``generate``; the rest take input images."""

    GENERATE = "generate"
    EDIT = "edit"
    """Prompt + one or more images + an optional mask (transparent where to paint)."""
    VARIATION = "variation"
    """One image, no prompt: more images like it."""
    UPSCALE = "upscale"
    """One image, enlarged ``scale`` times."""
    REMOVE_BACKGROUND = "remove_background"
    """One image, its background made transparent."""
    IMAGE_TO_IMAGE = "image_to_image"
    """Prompt + one image; ``strength`` in [0, 1] says how far from the image to go."""


@dataclass(frozen=True, slots=True)
class ProviderInput:
    """An input image, already checked (format, size, pixels) and stored by us."""

    data: bytes
    content_type: str
    width: int
    height: int
    url: str | None = None
    """A URL the provider itself can fetch this image from (e.g. a presigned storage URL), for
    providers whose endpoint takes only an image URL (Freepik remove-background). ``None``: the
    adapter sends the bytes (upload, base64 or a ``data:`` URI, as its provider accepts)."""


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One job, already validated and mapped onto the route's vocabulary."""

    prompt: str
    provider_model: str
    width: int
    height: int
    n: int = 1
    quality: str | None = None
    style: str | None = None
    """Our style name. Adapters use ``params`` for native style values; the prompt already holds
    any style template for providers without a native style parameter."""
    seed: int | None = None
    negative_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    """Route-specific native parameters from the catalog (e.g. ``{"style": "vivid"}``)."""
    deadline: float | None = None
    """Absolute ``time.monotonic()`` by which the adapter must give up (``ProviderErrorKind.TIMEOUT``)."""
    catalog_model: str = ""
    """Our public model name, used by the offline renderer."""
    operation: Operation = Operation.GENERATE
    images: tuple[ProviderInput, ...] = ()
    """Input images, in the caller's order (empty for ``generate``)."""
    mask: ProviderInput | None = None
    """For ``edit``: a PNG with alpha, the size of the first image; transparent pixels are repainted."""
    strength: float | None = None
    """For ``image_to_image``: 0 keeps the image, 1 ignores it."""
    scale: int | None = None
    """For ``upscale``: the factor (2, 4, …)."""
    output_format: str | None = None
    """``png``, ``jpeg`` or ``webp`` where the route can choose (gpt-image); None: the provider's default."""
    output_compression: int | None = None
    """0-100 for jpeg/webp output where the route supports it."""
    background: str | None = None
    """``transparent``, ``opaque`` or ``auto`` where the route supports it (gpt-image)."""
    moderation: str | None = None
    """``low`` or ``auto`` where the route supports it (gpt-image)."""
    partial_images: int = 0
    """0-3: partial images to stream where the route can (gpt-image, ``n == 1``); each is passed to
    ``on_partial_image`` as it arrives. Adapters that cannot stream ignore it."""
    on_partial_image: PartialImageCallback | None = field(default=None, compare=False, repr=False)
    """Called with ``(index, image)`` for every partial image the provider streams."""


@dataclass(frozen=True, slots=True)
class ProviderImage:
    data: bytes
    content_type: str
    width: int | None = None
    height: int | None = None


PartialImageCallback = Callable[[int, ProviderImage], Awaitable[None]]
"""Receives each streamed partial image: its 0-based index and the image."""


@dataclass(frozen=True, slots=True)
class ProviderResult:
    images: list[ProviderImage]
    provider_job_id: str | None = None
    seed: int | None = None
    revised_prompt: str | None = None
    provider_cost: float | None = None
    """Cost the provider itself reported, in USD, where it reports one."""
    usage: dict[str, Any] | None = None
    """The provider's raw usage object (e.g. OpenAI token counts), kept for audit."""


class ProviderErrorKind(enum.StrEnum):
    RETRYABLE = "retryable"
    """429, 5xx, connection errors: retry, then fall back to the next route."""
    TIMEOUT = "timeout"
    """The job's deadline passed while waiting on the provider."""
    CONTENT_POLICY = "content_policy"
    """Refused by the provider's safety system: never retried, never sent elsewhere."""
    INVALID_REQUEST = "invalid_request"
    """The provider rejected our parameters: a bug or an unsupported combination."""
    AUTH = "auth"
    """Credential or billing failure on the operator's side."""


class ProviderError(Exception):
    """A classified provider failure."""

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retry_after: float | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after
        self.provider_code = provider_code

    @property
    def retryable(self) -> bool:
        return self.kind is ProviderErrorKind.RETRYABLE


@runtime_checkable
class Provider(Protocol):
    """A provider adapter. One instance per process, sharing one pooled HTTP client."""

    name: str

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Produce ``request.n`` images or raise :class:`ProviderError`."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...
