"""Response objects.

Every model accepts fields it does not know (``extra="allow"``): a newer server can add fields
without breaking this client, and the new values stay reachable as attributes and in
``model_dump()``. Fields the server has always sent are required; the rest default to ``None``.

Each object parsed from an HTTP response also remembers ``_request_id`` (the ``X-Request-ID``
header; quote it when reporting a problem) and ``_idempotent_replayed`` (``True`` when the server
answered a retried POST from its idempotency record instead of running it again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .exceptions import APIStatusError, exception_for_error

__all__ = [
    "TERMINAL_STATUSES",
    "BatchError",
    "BatchItem",
    "BatchResponse",
    "BatchResult",
    "FailedAttempt",
    "GenerationError",
    "GenerationEvent",
    "GenerationList",
    "GenerationResponse",
    "GenerationResult",
    "ImageInfo",
    "ModelInfo",
    "ModelList",
    "UsageBucket",
    "UsageStats",
]

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
"""Job statuses after which nothing changes any more."""


class ResponseModel(BaseModel):
    """Base of every response object: forward compatible, with response metadata."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    _request_id: str | None = PrivateAttr(default=None)
    _idempotent_replayed: bool = PrivateAttr(default=False)


class ImageInfo(ResponseModel):
    """One image of a generation. URLs are absolute, signed and usable without credentials."""

    url: str
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    content_type: str | None = None

    # Set when the image arrives inside a generation, so download() can name the file
    # <generation id>-<index>.<ext>.
    _generation_id: str | None = PrivateAttr(default=None)
    _index: int | None = PrivateAttr(default=None)


class GenerationError(ResponseModel):
    """Why a generation failed (``GenerationResponse.error``)."""

    code: str | None = None
    message: str | None = None


class FailedAttempt(ResponseModel):
    """One provider call that failed before the generation's outcome (the attempt trail)."""

    provider: str
    model: str
    """The provider's own model id."""
    code: str
    message: str


class SourceImage(ResponseModel):
    """An input image of an image operation (``GenerationResponse.sources``)."""

    role: str
    """``image`` or ``mask``."""
    origin: str
    """``upload``, ``url``, or ``generation`` (an image of ``generation_id``)."""
    generation_id: str | None = None
    index: int | None = None
    url: str
    """The stored input; signed and expiring like output URLs."""
    width: int
    height: int
    content_type: str


class GenerationResponse(ResponseModel):
    """A generation, which is also a job: ``status`` is queued, running, succeeded, failed or
    canceled. ``image_url`` is the first image; ``images`` lists all of them."""

    id: str
    object: str = "generation"
    status: str
    image_url: str | None = None
    thumbnail_url: str | None = None
    images: list[ImageInfo] = Field(default_factory=list)
    prompt: str
    model: str
    style: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    provider: str | None = None
    livemode: bool | None = None
    cost: float | None = None
    """USD (see ``currency``); ``None`` when the price is unknown, never a made-up 0."""
    currency: str | None = None
    price_version: str | None = None
    progress: float | None = None
    processing_time: float | None = None
    """Seconds from start to finish."""
    revised_prompt: str | None = None
    batch_id: str | None = None
    error: GenerationError | None = None
    failed_attempts: list[FailedAttempt] = Field(default_factory=list)
    """Provider calls that failed (and were retried elsewhere, or decided the failure) before the
    outcome, oldest first."""
    operation: str = "generate"
    """``generate``, or the image operation: edit, variation, upscale, remove_background,
    image_to_image."""
    operation_params: dict[str, Any] = Field(default_factory=dict)
    cached: bool = False
    """Served from the result cache, or shared with an identical request in flight: ``cost`` is
    0 and the images are those of ``cached_from``."""
    cached_from: str | None = None
    """The generation whose result (and stored images) this one shares."""
    sources: list[SourceImage] = Field(default_factory=list)
    """The input images, in order (empty for ``generate``)."""
    parents: list[str] = Field(default_factory=list)
    """Generations whose images this job took as input."""
    children: list[str] | None = None
    """Generations that took this one's images as input (on ``get_generation`` only)."""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def model_post_init(self, _context: Any, /) -> None:
        for index, image in enumerate(self.images):
            image._generation_id = self.id
            image._index = index

    @property
    def is_terminal(self) -> bool:
        """``True`` once the job has succeeded, failed or been canceled."""
        return self.status in TERMINAL_STATUSES


class GenerationResult(GenerationResponse):
    """What ``generate()`` returns: a generation that succeeded (it raises otherwise), so the
    fields the client reference declares as plain values are never ``None`` here. ``style`` is
    ``""`` when no style was applied; ``cost`` is ``nan`` only if the server reports no price (an
    operator's catalog without one), never a made-up 0. History items, jobs and events stay
    :class:`GenerationResponse`, whose fields may be ``None``."""

    image_url: str
    thumbnail_url: str
    style: str
    size: str
    quality: str
    cost: float
    processing_time: float
    created_at: datetime

    @classmethod
    def from_generation(cls, generation: GenerationResponse) -> GenerationResult:
        """The succeeded ``generation``, its unset style and price filled as described above."""
        data = generation.model_dump()
        for name in ("style", "size", "quality", "thumbnail_url"):
            if data.get(name) is None:
                data[name] = "" if name != "thumbnail_url" else (data.get("image_url") or "")
        for name in ("cost", "processing_time"):
            if data.get(name) is None:
                data[name] = math.nan
        result = cls.model_validate(data)
        result._request_id = generation._request_id
        result._idempotent_replayed = generation._idempotent_replayed
        return result


class GenerationList(ResponseModel):
    """One page of ``GET /api/v1/generations``."""

    object: str = "list"
    data: list[GenerationResponse] = Field(default_factory=list)
    has_more: bool = False
    next_cursor: str | None = None


class OperationInfo(ResponseModel):
    """One image operation a model offers (``edit``, ``upscale``…): its parameters and prices."""

    max_input_images: int = 1
    mask: bool = False
    prompt: bool = True
    factors: list[int] | None = None
    """``upscale``: the allowed factors."""
    strength: list[float] | None = None
    """``image_to_image``: the allowed strength range, ``[low, high]``."""
    default_strength: float | None = None
    max_images: int = 1
    price: float | None = None
    """USD for one result at the model's defaults (``upscale``: the smallest factor)."""
    pricing: dict[str, dict[str, float]] = Field(default_factory=dict)
    providers: list[str] = Field(default_factory=list)


class ModelInfo(ResponseModel):
    """A catalog model: what it accepts, what it costs, and whether it can run now."""

    name: str
    description: str = ""
    text_to_image: bool = True
    max_resolution: str | None = None
    supported_styles: list[str] = Field(default_factory=list)
    supported_sizes: list[str] = Field(default_factory=list)
    supported_qualities: list[str] = Field(default_factory=list)
    default_size: str | None = None
    default_quality: str | None = None
    default_style: str | None = None
    pricing_per_image: float | None = None
    pricing: dict[str, dict[str, float]] = Field(default_factory=dict)
    currency: str | None = None
    average_time: float | None = None
    max_images: int | None = None
    supports_seed: bool | None = None
    supports_negative_prompt: bool | None = None
    providers: list[str] = Field(default_factory=list)
    available: bool = True
    unavailable_reason: str | None = None
    notes: str | None = None
    operations: dict[str, OperationInfo] = Field(default_factory=dict)
    """Image operations beyond text to image, by name."""


class ModelList(ResponseModel):
    object: str = "list"
    data: list[ModelInfo] = Field(default_factory=list)


class UsageBucket(ResponseModel):
    """Usage for one group (a model, a day, a key, a provider or a metadata value).
    ``generations`` counts every status; ``images`` and ``cost`` count succeeded generations."""

    key: str
    name: str | None = None
    """For ``group_by="key"``: the key's name."""
    generations: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    active: int = 0
    """Still queued or running."""
    images: int = 0
    cost: float = 0.0
    cached: int = 0
    """Succeeded generations served from the result cache."""
    cache_savings: float = 0.0
    """What those cached results cost their sources."""


class BudgetStatus(ResponseModel):
    """This month's spend against a budget: the calling key's (``scope="key"``) or its pool's."""

    scope: str
    key_id: str
    monthly_budget: float
    spent: float = 0.0
    reserved: float = 0.0
    """Held by queued or running generations."""
    remaining: float = 0.0
    period_start: date


class UsageStats(ResponseModel):
    """Totals for a date range (both ends inclusive)."""

    object: str = "usage"
    start_date: date
    end_date: date
    livemode: bool | None = None
    total_generations: int = 0
    """Every generation created in the range, whatever its status (the history count)."""
    succeeded_generations: int = 0
    total_images: int = 0
    total_cost: float = 0.0
    failed_generations: int = 0
    canceled_generations: int = 0
    """Canceled in the range (never charged)."""
    active_generations: int = 0
    """Still queued or running."""
    unpriced_generations: int = 0
    storage_bytes: int = 0
    """Bytes stored for the range's generations: their images and stored inputs."""
    cached_generations: int = 0
    """Succeeded generations that shared another's result at $0 (part of
    ``succeeded_generations``)."""
    cache_savings: float = 0.0
    """What the cached generations' results cost their sources: money not spent."""
    currency: str | None = None
    by_model: list[UsageBucket] = Field(default_factory=list)
    by_day: list[UsageBucket] = Field(default_factory=list)
    group_by: str | None = None
    groups: list[UsageBucket] | None = None
    budget: list[BudgetStatus] = Field(default_factory=list)


class BatchError(ResponseModel):
    """The error object of a failed batch item (same fields as the error envelope)."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    request_id: str | None = None
    generation_id: str | None = None


class BatchItem(ResponseModel):
    """The outcome for one prompt of a batch: ``generation`` when it succeeded, else ``error``
    (a failed item may also carry its failed ``generation``)."""

    index: int
    prompt: str
    status: str
    generation: GenerationResponse | None = None
    error: BatchError | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded" and self.generation is not None

    @property
    def image_url(self) -> str | None:
        """The generation's first image URL, or ``None`` when this item failed."""
        return self.generation.image_url if self.generation is not None else None

    @property
    def exception(self) -> APIStatusError | None:
        """The exception this item's error maps to (as the single-generation call would raise)."""
        if self.ok:
            return None
        error = self.error.model_dump(exclude_none=True) if self.error else {"message": "batch item failed"}
        return exception_for_error(None, {"error": error})

    def raise_for_error(self) -> GenerationResponse:
        """Return the generation, or raise the item's mapped exception."""
        exc = self.exception
        if exc is not None:
            raise exc
        assert self.generation is not None  # ok implies a generation
        return self.generation


class BatchResponse(ResponseModel):
    """The raw body of ``POST /api/v1/generate/batch``."""

    object: str = "batch"
    id: str
    data: list[BatchItem] = Field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    total_cost: float | None = None


class BatchResult(list[BatchItem]):
    """What ``generate_batch`` returns: a list with one :class:`BatchItem` per prompt, in order.

    Iterate it like the list of responses it is (``item.image_url``, ``item.generation``,
    ``item.error``); the batch-level figures are attributes.
    """

    def __init__(self, response: BatchResponse) -> None:
        super().__init__(response.data)
        self.response = response
        self.id = response.id
        self.succeeded = response.succeeded
        self.failed = response.failed
        self.total_cost = response.total_cost

    @property
    def generations(self) -> list[GenerationResponse]:
        """The successful generations, in prompt order."""
        return [item.generation for item in self if item.generation is not None and item.ok]

    @property
    def errors(self) -> list[BatchItem]:
        """The items that failed."""
        return [item for item in self if not item.ok]


@dataclass(frozen=True)
class GenerationEvent:
    """One Server-Sent Event of ``GET /generations/{id}/events``."""

    event: str
    """The event name: the job's status (``queued``, ``running``, ``succeeded``...)."""
    data: GenerationResponse
    id: str | None = None

    @property
    def status(self) -> str:
        return self.data.status

    @property
    def is_terminal(self) -> bool:
        return self.data.is_terminal
