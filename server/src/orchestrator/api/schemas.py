"""Request and response bodies of API v1. These classes are the public contract (and the OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from orchestrator.api.inputs import MAX_BUDGET_USD, Metadata, SafeText, safe_text
from orchestrator.errors import ErrorCode, ErrorType, describe_codes

Scope = Literal["generate", "read", "admin"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]


CacheChoice = Annotated[
    StrictBool | Literal["always"] | None,
    Field(
        description="Result cache (exact match, per project and mode): `true` serves a seeded request "
        "from an identical earlier result, or shares an identical request in flight, at $0; "
        '`"always"` does so even without a seed; `false` never; unset: the key\'s `cache` default '
        "(seeded requests only).",
    ),
]


class StrictBody(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class GenerationParams(StrictBody):
    model: SafeText = Field(min_length=1, max_length=64, description="Catalog model name, e.g. `dall-e-3`.")
    style: SafeText | None = Field(default=None, max_length=64, description="One of the model's styles.")
    size: SafeText | None = Field(
        default=None, max_length=16, description="`WIDTHxHEIGHT`, one of the model's sizes."
    )
    quality: SafeText | None = Field(default=None, max_length=16, description="One of the model's qualities.")
    n: int = Field(
        default=1,
        ge=1,
        strict=True,
        description="Images to generate for the prompt: at most the model's `max_images` and the server's "
        'cap (4 by default). An integer: `"2"` and `true` are refused.',
    )
    seed: int | None = Field(default=None, ge=0, le=4_294_967_294, strict=True)
    negative_prompt: SafeText | None = Field(default=None, max_length=2000)
    metadata: Metadata = Field(default_factory=dict)


# A prompt must contain something to draw: blank prompts are refused (422). Every door's request
# model uses this type; it is the one blank check (the length limit is a setting: the service).
Prompt = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r"\S",
        description="What to draw: not blank, at most the server's `max_prompt_length` (4000 characters "
        "by default), no NUL.",
    ),
    AfterValidator(safe_text),
]


class GenerateRequest(GenerationParams):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "prompt": "A beautiful sunset over mountains",
                    "model": "dall-e-3",
                    "style": "photorealistic",
                    "size": "1024x1024",
                    "metadata": {"campaign": "summer"},
                }
            ]
        }
    )

    prompt: Prompt
    cache: CacheChoice = None


class BatchRequest(GenerationParams):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"prompts": ["a red bicycle", "a blue car"], "model": "flux-schnell", "batch_size": 2}
            ]
        }
    )

    prompts: list[Prompt] = Field(
        min_length=1,
        description="One generation per prompt, answered in order; none may be blank; at most the "
        "server's `max_batch_prompts` (50 by default).",
    )
    batch_size: int = Field(
        default=4,
        ge=1,
        strict=True,
        description="How many prompts run at once: at most the server's `max_batch_concurrency` "
        "(10 by default).",
    )


class ImageOut(BaseModel):
    url: str
    thumbnail_url: str
    width: int
    height: int
    content_type: str


class ErrorInfo(BaseModel):
    code: str
    message: str


class SourceOut(BaseModel):
    """An input image of this job."""

    role: Literal["image", "mask"]
    origin: Literal["upload", "url", "generation"] = Field(
        description="Uploaded, fetched from a URL, or an image of another generation (`generation_id`)."
    )
    generation_id: str | None = Field(
        description="The parent generation, when the input was one of its images."
    )
    index: int | None = Field(description="Which image of the parent generation.")
    url: str = Field(description="The stored input; signed and expiring like output URLs.")
    width: int
    height: int
    content_type: str


class FailedAttempt(BaseModel):
    """One provider call that failed before the generation's outcome."""

    provider: str
    model: str = Field(description="The provider's own model id.")
    code: str = Field(description="The provider's error code, `circuit_open`, or the failure's kind.")
    message: str


class GenerationResponse(BaseModel):
    """A generation (also a job): the seed's fields plus status, images, cost and timing."""

    id: str
    object: Literal["generation"] = "generation"
    status: JobStatus
    image_url: str | None = Field(description="The first image; signed, expiring, usable in an <img> tag.")
    thumbnail_url: str | None
    images: list[ImageOut]
    prompt: str
    model: str
    style: str | None
    size: str
    quality: str
    n: int
    seed: int | None
    negative_prompt: str | None
    metadata: dict[str, Any]
    provider: str | None
    livemode: bool
    cost: float | None = Field(description="USD for this generation; null when the price is unknown.")
    currency: str
    price_version: str
    progress: float
    processing_time: float | None = Field(description="Seconds from start to finish.")
    revised_prompt: str | None = None
    batch_id: str | None = None
    operation: str = Field(
        default="generate",
        description="`generate`, or the image operation: edit, variation, upscale, "
        "remove_background, image_to_image.",
    )
    operation_params: dict[str, Any] = Field(
        default_factory=dict, description="The operation's own fields: factor, strength, output options."
    )
    sources: list[SourceOut] = Field(default_factory=list, description="The input images, in order.")
    parents: list[str] = Field(
        default_factory=list, description="Generations whose images this job took as input."
    )
    children: list[str] | None = Field(
        default=None,
        description="Generations that took this one's images as input (on `GET /generations/{id}` only).",
    )
    cached: bool = Field(
        default=False,
        description="Served from the result cache or shared with an identical request in flight "
        "(cost 0; the images are those of `cached_from`).",
    )
    cached_from: str | None = Field(
        default=None, description="The generation whose result (and stored images) this one shares."
    )
    error: ErrorInfo | None
    failed_attempts: list[FailedAttempt] = Field(
        default_factory=list,
        description="The attempt trail: provider calls that failed (and were retried elsewhere, or "
        "decided the failure) before the outcome, oldest first.",
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class GenerationPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[GenerationResponse]
    has_more: bool
    next_cursor: str | None


class BatchItem(BaseModel):
    index: int
    prompt: str
    status: Literal["succeeded", "failed"]
    generation: GenerationResponse | None
    error: dict[str, Any] | None = Field(
        description="The error envelope's `error` object when this item failed."
    )


class BatchResponse(BaseModel):
    object: Literal["batch"] = "batch"
    id: str
    data: list[BatchItem]
    succeeded: int
    failed: int
    total_cost: float | None


class OperationInfo(BaseModel):
    """One image operation a model offers: its parameters and prices, from the catalog."""

    max_input_images: int = Field(description="Input images accepted (`image` plus `image[]`).")
    mask: bool = Field(description="Whether an `edit` may carry a mask.")
    prompt: bool = Field(description="Whether the operation takes (and needs) a prompt.")
    factors: list[int] | None = Field(default=None, description="`upscale`: the allowed factors.")
    strength: list[float] | None = Field(
        default=None, description="`image_to_image`: the allowed strength range, `[low, high]`."
    )
    default_strength: float | None = None
    max_images: int = Field(description="Most results (`n`) one request may ask for.")
    price: float | None = Field(
        description="USD for one result at the model's default size and quality (`upscale`: the "
        "smallest factor); null when unknown."
    )
    pricing: dict[str, dict[str, float]] = Field(
        description="USD per result by output size (`upscale`: by factor, e.g. `2x`) then quality; "
        "`*` matches any."
    )
    providers: list[str] = Field(description="The providers of the routes that serve this operation.")


class ModelInfo(BaseModel):
    name: str
    description: str
    text_to_image: bool = Field(description="False for models that only transform images.")
    max_resolution: str
    supported_styles: list[str]
    supported_sizes: list[str]
    supported_qualities: list[str]
    default_size: str
    default_quality: str
    default_style: str | None
    pricing_per_image: float | None = Field(description="USD for one image at the default size and quality.")
    pricing: dict[str, dict[str, float]]
    currency: str
    average_time: float | None = Field(description="Mean seconds of recent successful generations.")
    max_images: int
    supports_seed: bool
    supports_negative_prompt: bool
    providers: list[str]
    available: bool
    unavailable_reason: str | None = None
    notes: str | None = None
    operations: dict[str, OperationInfo] = Field(
        default_factory=dict,
        description="Image operations beyond text to image (`edit`, `variation`, `upscale`, "
        "`remove_background`, `image_to_image`), with their parameters and prices.",
    )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]


class UsageBucket(BaseModel):
    key: str
    name: str | None = Field(default=None, description="For `group_by=key`: the key's name.")
    generations: int = Field(description="Generations of every status in this group.")
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    active: int = Field(default=0, description="Still queued or running.")
    images: int = Field(description="Images of succeeded generations.")
    cost: float = Field(description="Charged: the stored cost of succeeded generations.")
    cached: int = Field(default=0, description="Succeeded generations served from the result cache.")
    cache_savings: float = Field(default=0.0, description="What those cached results cost their sources.")


class BudgetStatus(BaseModel):
    scope: Literal["key", "pool"] = Field(
        description="`key`: the calling key's own budget; `pool`: the budget of the key it draws from."
    )
    key_id: str
    monthly_budget: float
    spent: float = Field(description="Charged this month (UTC), succeeded generations.")
    reserved: float = Field(description="Held by queued or running generations this month.")
    remaining: float = Field(description="monthly_budget - spent - reserved (never below 0).")
    period_start: date


class UsageStats(BaseModel):
    object: Literal["usage"] = "usage"
    start_date: date
    end_date: date
    livemode: bool
    total_generations: int = Field(
        description="Every generation created in the range, whatever its status: the history count."
    )
    succeeded_generations: int = 0
    failed_generations: int
    canceled_generations: int = Field(default=0, description="Canceled in the range (never charged).")
    active_generations: int = Field(default=0, description="Still queued or running.")
    total_images: int = Field(description="Images of succeeded generations.")
    total_cost: float = Field(description="Charged: the sum of the stored costs of succeeded generations.")
    unpriced_generations: int = Field(description="Succeeded generations whose price is unknown.")
    storage_bytes: int = Field(
        default=0,
        description="Bytes stored for the generations created in the range: their images and their "
        "stored inputs (uploads and fetched URLs; a stored image used as input is not counted twice).",
    )
    cached_generations: int = Field(
        default=0,
        description="Succeeded generations that shared another's result (result cache or in-flight "
        "deduplication) at $0; part of `succeeded_generations`.",
    )
    cache_savings: float = Field(
        default=0.0, description="What the cached generations' results cost their sources: money not spent."
    )
    currency: str
    by_model: list[UsageBucket]
    by_day: list[UsageBucket]
    group_by: str | None = None
    groups: list[UsageBucket] | None = None
    budget: list[BudgetStatus] = Field(
        default_factory=list,
        description="This month's budgets of the calling key and of the pool it draws from, where set.",
    )


class KeyCreate(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "ci", "mode": "test", "scopes": ["generate", "read"]}]}
    )

    name: SafeText = Field(min_length=1, max_length=128)
    mode: Literal["test", "live"] = Field(default="test", description="A test key can only create test keys.")
    scopes: list[Scope] = Field(default_factory=lambda: list[Scope](["generate", "read"]))
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        strict=True,
        description="At most the creating key's own limit, unless it is a live admin key; "
        "unset = the creator's limit (or the server default).",
    )
    max_concurrent: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        strict=True,
        description="At most the creating key's own cap, unless it is a live admin key.",
    )
    monthly_budget: float | None = Field(
        default=None,
        ge=0,
        le=MAX_BUDGET_USD,
        allow_inf_nan=False,
        strict=True,
        description="USD per calendar month. At most the creating key's own budget, unless it is a "
        "live admin key; unset = the creator's budget (or none).",
    )
    expires_at: datetime | None = Field(
        default=None,
        description="When the key stops working (ISO 8601, in the future; no offset = UTC). Not after "
        "the creating key's own expiry; unset = the creator's expiry (or never).",
    )
    cache: StrictBool = Field(
        default=False,
        description="Seeded requests of this key use the result cache unless they send `cache: false` "
        '(unseeded ones only with `cache: "always"`).',
    )


class KeyOut(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    project: str
    mode: str
    prefix: str
    scopes: list[str]
    rate_limit_per_minute: int | None
    max_concurrent: int | None
    monthly_budget: float | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = None
    cache: bool = Field(default=False, description="Seeded requests use the result cache by default.")


class KeyCreated(KeyOut):
    key: str = Field(description="The secret. Shown once; only its hash is stored.")


class KeyDefaults(BaseModel):
    """The server's limits for keys that set none of their own."""

    rate_limit_per_minute: int
    max_concurrent: int


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyOut]
    defaults: KeyDefaults | None = Field(
        default=None,
        description="What `null` limits mean on this server (requests per minute, jobs at once).",
    )


class ErrorBody(BaseModel):
    type: ErrorType
    code: ErrorCode = Field(description=describe_codes())
    message: str
    param: str | None
    request_id: str | None


class ErrorEnvelope(BaseModel):
    error: ErrorBody
