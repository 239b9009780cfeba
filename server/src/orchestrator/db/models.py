"""Tables. Money is stored as integer micro-dollars so sums are exact on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite too (which stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_LEADER = "status IN ('queued', 'running') AND cached_from IS NULL AND cache_key IS NOT NULL"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(24))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(8))
    scopes: Mapped[list[str]]
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_concurrent: Mapped[int | None] = mapped_column(Integer)
    monthly_budget_micros: Mapped[int | None] = mapped_column(BigInteger)
    budget_pool_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """The key whose monthly budget this key also draws from (its budgeted creator's pool)."""
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    """After this instant the key is refused (None: never expires)."""
    cache_default: Mapped[bool | None] = mapped_column(Boolean)
    """Seeded requests of this key use the result cache unless they say ``cache: false``."""


class Generation(Base):
    __tablename__ = "generations"
    __table_args__ = (
        Index("ix_generations_claim", "status", "created_at"),
        Index("ix_generations_history", "project", "livemode", "id"),
        Index("ix_generations_key_created", "api_key_id", "created_at"),
        Index("ix_generations_batch", "batch_id", "batch_index"),
        Index("ix_generations_cache", "project", "livemode", "cache_key", "status"),
        Index("ix_generations_cached_from", "cached_from"),
        # One active leader per cache key: identical concurrent requests become its followers.
        Index(
            "ux_generations_cache_leader",
            "project",
            "livemode",
            "cache_key",
            unique=True,
            sqlite_where=text(_LEADER),
            postgresql_where=text(_LEADER),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(128))
    """Who is capped for this job: the key id, or ``jwt:<sub>`` for a bearer token."""
    livemode: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(64))
    style: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(16))
    quality: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    negative_prompt: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    batch_id: Mapped[str | None] = mapped_column(String(32))
    batch_index: Mapped[int | None] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_model: Mapped[str | None] = mapped_column(String(128))
    provider_job_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    price_version: Mapped[str] = mapped_column(String(32))
    provider_cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    provider_usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    revised_prompt: Mapped[str | None] = mapped_column(Text)
    attempt_trail: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Failed provider calls before the outcome: provider, model, code, message (oldest first)."""
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    processing_time: Mapped[float | None] = mapped_column(Float)
    deadline_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    operation: Mapped[str] = mapped_column(String(32), default="generate", server_default="generate")
    """``generate``, or the image operation (``edit``, ``upscale``, …) this job runs."""
    operation_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The operation's own fields (``scale``, ``strength``, output options), as submitted."""
    cache_key: Mapped[str | None] = mapped_column(String(64))
    """Hash of what decides the pixels (``generation.cache``); set only when the request opted in."""
    cached_from: Mapped[str | None] = mapped_column(String(32))
    """The generation whose result this one shares (a cache hit, or a deduplicated follower)."""
    saved_micros: Mapped[int | None] = mapped_column(BigInteger)
    """What the shared result cost its source: this job's saving (cost_micros is 0)."""

    images: Mapped[list[Image]] = relationship(
        back_populates="generation", order_by="Image.idx", lazy="selectin", cascade="all, delete-orphan"
    )
    sources: Mapped[list[Source]] = relationship(
        order_by="Source.idx", lazy="selectin", cascade="all, delete-orphan"
    )


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("generation_id", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))
    thumbnail_key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)

    generation: Mapped[Generation] = relationship(back_populates="images")


class Source(Base):
    """An input image of a job: uploaded, fetched from a URL, or another generation's image."""

    __tablename__ = "generation_sources"
    __table_args__ = (
        UniqueConstraint("generation_id", "idx"),
        Index("ix_generation_sources_source", "source_generation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    """``image`` or ``mask``."""
    origin: Mapped[str] = mapped_column(String(16))
    """``upload``, ``url`` or ``generation`` (an image we already stored)."""
    source_generation_id: Mapped[str | None] = mapped_column(String(32))
    source_index: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("project", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    endpoint: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    generation_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    locked_until: Mapped[datetime]


class WebhookEndpoint(Base):
    """Where a project's generation events are sent (Standard Webhooks)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_project", "project", "livemode", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(256))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    """The ``whsec_`` signing secret; the receiver holds the same one, so it is kept as is."""
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """The outbox: one row per event per endpoint, written in the transaction that ends the job,
    so an event survives a crash; delivered at least once with the same ``webhook-id``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """The ``webhook-id`` header: the same on every retry, so receivers can deduplicate."""
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``retrying`` (an attempt failed, another is due at ``next_attempt_at``),
    ``delivered``, ``dead`` (given up: the dead letter) or ``canceled`` (endpoint disabled)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class Board(Base):
    """A named collection of a project's generations (gallery); one per project is the default."""

    __tablename__ = "boards"
    __table_args__ = (
        Index("ix_boards_project", "project", "livemode"),
        Index("ux_boards_name", "project", "livemode", "name", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(128))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class BoardItem(Base):
    __tablename__ = "board_items"
    __table_args__ = (Index("ix_board_items_generation", "generation_id"),)

    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True)
    generation_id: Mapped[str] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime]


class GalleryMark(Base):
    """Per-generation gallery state kept beside the job row: star, soft delete, purge of files.

    The generation row itself is never deleted, so spend history stays exact."""

    __tablename__ = "gallery_marks"
    __table_args__ = (Index("ix_gallery_marks_purge", "purged_at", "purge_after"),)

    generation_id: Mapped[str] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    project: Mapped[str] = mapped_column(String(64))
    starred_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    purge_after: Mapped[datetime | None]
    """End of the undo window: after it the stored files are removed."""
    purged_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what to which object (gallery deletions and restores, file purges)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_project", "project", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class BudgetAlert(Base):
    """A monthly budget crossed one of its alert thresholds (50, 80, 100 %): one row per budget,
    period and threshold, written with the charge that crossed it, so the alert is sent once."""

    __tablename__ = "budget_alerts"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "period_start", "threshold"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(8))
    """``key`` (a key's own budget) or ``pool`` (the budget a key's tree draws from)."""
    scope_id: Mapped[str] = mapped_column(String(32))
    """The key whose budget it is (for a pool, the key that owns it)."""
    period_start: Mapped[datetime]
    threshold: Mapped[int] = mapped_column(Integer)
    """Percent of the budget: 50, 80 or 100."""
    spent_micros: Mapped[int] = mapped_column(BigInteger)
    budget_micros: Mapped[int] = mapped_column(BigInteger)
    generation_id: Mapped[str] = mapped_column(String(32))
    """The succeeded job whose charge crossed the threshold."""
    created_at: Mapped[datetime]
