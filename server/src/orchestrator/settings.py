"""Runtime configuration, read from ``ORCHESTRATOR_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProviderCredentials(BaseSettings):
    """Credentials and endpoints of the upstream providers; every base URL is overridable."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", env_file=".env", extra="ignore")

    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_organization: str | None = None
    stability_api_key: SecretStr | None = None
    stability_base_url: str = "https://api.stability.ai"
    replicate_api_token: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com"
    fal_key: SecretStr | None = None
    fal_base_url: str = "https://queue.fal.run"
    freepik_api_key: SecretStr | None = None
    freepik_base_url: str = "https://api.freepik.com"
    freepik_api_key_header: str = "x-freepik-api-key"
    midjourney_base_url: str | None = None
    midjourney_api_secret: SecretStr | None = None
    diffusers_model_path: str | None = None


class Settings(BaseSettings):
    """Everything the server needs; build one and pass it to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", env_file=".env", extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _lower_log_level(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("log_level"), str):
            values = {**values, "log_level": values["log_level"].lower()}
        return values

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; defaults to SQLite in data_dir."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = Field(
        default=None, description="Absolute base for image URLs; defaults to the request's own base URL."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs image URLs; generated once into data_dir when unset."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Least severe level logged (every logger, uvicorn's included)."
    )
    log_format: Literal["console", "json"] | None = Field(
        default=None, description="`console` or `json`; unset = console on a terminal, JSON otherwise."
    )
    access_log: bool = Field(default=True, description="Log one line per request (orchestrator.access).")
    auto_migrate: bool = Field(default=True, description="Run database migrations at start-up.")
    catalog_path: Path | None = Field(
        default=None, description="Your own models.yaml instead of the shipped one."
    )

    # Jobs
    worker_concurrency: int = Field(default=256, ge=1, description="Jobs one process runs at once.")
    run_workers: bool = Field(default=True, description="Run the job worker pool inside `serve`.")
    cancel_on_abandon: bool = Field(
        default=True,
        description="Cancel a synchronous caller's job at $0 when it disconnects while the job is "
        "still queued (a running job always completes and is charged once).",
    )
    cache_enabled: bool = Field(
        default=True,
        description="Allow the opt-in result cache and in-flight deduplication at all (requests and "
        "keys still opt in; false turns both off for every project).",
    )
    cache_ttl_seconds: float = Field(
        default=86400.0, gt=0, description="How long a succeeded result may serve identical requests."
    )
    cache_disabled_projects: list[str] = Field(
        default_factory=list,
        description="Projects whose requests never use the result cache, whatever they ask for.",
    )
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_max_attempts: int = Field(default=2, ge=1, description="Takeovers of a lost job before it fails.")
    job_deadline_seconds: float = Field(default=300.0, gt=0)
    job_poll_interval: float = Field(
        default=1.0, gt=0, description="How often workers look for foreign jobs."
    )
    sync_wait_seconds: float = Field(
        default=300.0, gt=0, description="How long POST /generate waits before answering 202."
    )

    provider_max_attempts: int = Field(default=3, ge=1, description="Calls per route before falling back.")
    provider_attempt_timeout: float | None = Field(
        default=None, gt=0, description="Budget of one provider call; unset = the job's remaining time."
    )
    provider_max_connections: int = Field(
        default=1000, ge=1, description="Open connections to providers, per process (one shared pool)."
    )
    breaker_failure_threshold: int = Field(default=5, ge=1, description="Failures that open a breaker.")
    breaker_cooldown_seconds: float = Field(
        default=30.0, gt=0, description="Open breaker's wait before a probe."
    )
    offline_latency_seconds: float = Field(
        default=0.0, ge=0, description="Simulated generation time of the test-mode renderer."
    )

    # Input caps
    max_prompt_length: int = 4000
    max_images_per_request: int = 4
    max_batch_prompts: int = 50
    max_batch_concurrency: int = 10
    max_page_size: int = 100
    max_body_bytes: int = 1_000_000
    max_metadata_keys: int = 32

    # Image operations' inputs
    max_upload_body_bytes: int = Field(
        default=50_000_000,
        gt=0,
        description="Body cap of the image-operation endpoints (uploads); "
        "every other endpoint keeps max_body_bytes.",
    )
    max_input_image_bytes: int = Field(default=20_000_000, gt=0, description="Cap per input image file.")
    max_input_pixels: int = Field(
        default=40_000_000, gt=0, description="Cap on an input image's width × height, read from its header."
    )
    max_output_pixels: int = Field(
        default=40_000_000, gt=0, description="Cap on an upscale's output width × height."
    )
    input_url_timeout_seconds: float = Field(default=15.0, gt=0, description="Cap on fetching an input URL.")
    input_url_trusted_hosts: list[str] = Field(
        default_factory=list,
        description="`host:port` pairs exempt from the public-address rule (e.g. your own image CDN); "
        "plain http is accepted from them too.",
    )
    provenance_chunks: bool = Field(
        default=True,
        description="Write prompt, model, seed and generation id into stored PNGs' text chunks.",
    )

    # HTTP limits, per process, enforced by `serve` before a request reaches the app
    http_max_header_bytes: int = Field(
        default=32 * 1024, ge=1024, description="Request line and headers together; larger gets 431."
    )
    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time to send the request line and headers; slower gets 408."
    )
    http_body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Time to send the whole body after the headers; slower gets 408."
    )
    http_max_connections: int = Field(
        default=1000, ge=1, description="Open connections per process; idle ones are shed first, then 503."
    )
    http_keep_alive_seconds: int = Field(
        default=5, ge=1, description="An idle kept-alive connection is closed after this long."
    )

    # Storage
    storage_backend: Literal["local", "s3"] = Field(
        default="local", description="`local` (data_dir/images) or `s3` (any S3-compatible store)."
    )
    s3_bucket: str | None = Field(default=None, description="Bucket for images when storage is s3.")
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. `images/`.")
    s3_endpoint_url: str | None = Field(
        default=None, description="For MinIO, R2, moto…; unset = AWS. Credentials: standard AWS chain."
    )
    s3_region: str | None = None
    image_url_ttl_seconds: int = 24 * 3600
    thumbnail_size: int = 256
    thumbnail_workers: int = 2

    # Auth
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_file: Path | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_project_claim: str = "project"
    jwt_scope_claim: str = "scope"

    # Limits (defaults applied to keys that set none)
    default_rate_limit_per_minute: int = 600
    default_max_concurrent: int = 16
    max_streams_per_key: int = Field(
        default=20, ge=1, description="Event streams (SSE) one key may hold open, per process."
    )
    idempotency_ttl_seconds: int = 24 * 3600

    redis_url: str | None = Field(
        default=None,
        description="Shares rate limits, concurrency caps and job wake-ups across processes.",
    )
    redis_key_prefix: str = Field(default="orchestrator:", description="Namespace of every Redis key.")
    redis_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How long one Redis call may take before the in-process fallback answers instead.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Processes sharing this deployment (set by `serve --workers`; for limits and /readyz).",
    )
    per_process_limits: bool = Field(
        default=False,
        description="Allow several processes without Redis: each rate limit is split across them and "
        "running jobs are capped by the database only.",
    )
    rate_limit_fallback_processes: int = Field(
        default=1,
        ge=1,
        description="While Redis is unreachable each process enforces limit/N; set N to your process count.",
    )

    # Webhooks
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback, link-local or private addresses (tests, LANs).",
    )
    gallery_undo_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a deleted gallery image can be restored before its files are removed.",
    )
    webhook_max_attempts: int = Field(default=12, ge=1, description="Deliveries tried before giving up.")
    webhook_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="First retry delay; doubles with each attempt (capped at 1 h)."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Total deadline of one delivery attempt: DNS, connect, send, answer."
    )
    webhook_max_endpoints: int = Field(
        default=16, ge=1, description="Webhook endpoints per project and mode (test/live)."
    )
    webhook_concurrency: int = Field(default=16, ge=1, description="Deliveries in flight per process.")
    webhook_endpoint_concurrency: int = Field(
        default=2, ge=1, description="Deliveries in flight to one endpoint, per process."
    )

    # Observability
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Lets a scraper read /metrics with `Authorization: Bearer <token>`; "
        "otherwise only a live admin key can.",
    )

    providers: ProviderCredentials = Field(default_factory=ProviderCredentials)

    _database_chosen_by: str = PrivateAttr(default="ORCHESTRATOR_DATABASE_URL")

    @model_validator(mode="after")
    def _fill_database_url(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'orchestrator.db').resolve()}"
            explicit = "data_dir" in self.model_fields_set
            self._database_chosen_by = (
                f"ORCHESTRATOR_DATA_DIR={self.data_dir}"
                if explicit
                else "ORCHESTRATOR_DATA_DIR (unset: ./data)"
            )
        return self

    @property
    def database_chosen_by(self) -> str:
        """The setting that chose the database, for messages that name it."""
        return self._database_chosen_by

    def _database_parts(self) -> tuple[str, str, str]:
        """(backend, where, name): a SQLite file's folder and name, or a server's host:port and
        database name; never a user or password."""
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.db_url)
        except Exception:  # unparsable: the scheme alone
            return self.db_url.split("://", 1)[0], "", ""
        if url.get_backend_name() == "sqlite":
            file = Path(url.database or ":memory:")
            file = file if str(file) == ":memory:" else file.resolve()
            return "sqlite", str(file.parent), file.name
        port = f":{url.port}" if url.port else ""
        return url.get_backend_name(), f"{url.host or ''}{port}", url.database or ""

    def database_id(self) -> str:
        """A short fingerprint of the database, equal wherever the same database is used."""
        import hashlib

        return hashlib.sha256("|".join(self._database_parts()).encode()).hexdigest()[:8]

    def database_label(self) -> str:
        """The database for operators (start-up line, CLI): a SQLite file's path, or a server's
        host, port and database name, with its id."""
        backend, where, name = self._database_parts()
        if backend == "sqlite":
            return f"sqlite:{Path(where) / name} (id {self.database_id()})"
        return f"{backend}://{where}/{name} (id {self.database_id()})"

    def database_public_label(self) -> str:
        """The database as shown to anyone (``/readyz``): its name and id, no server path or host."""
        backend, where, name = self._database_parts()
        shown = f"…/{Path(where).name}/{name}" if backend == "sqlite" else f"…/{name}"
        return f"{backend} {shown} (id {self.database_id()})"

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled by the validator
        return self.database_url

    @model_validator(mode="after")
    def _check_storage(self) -> Settings:
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("ORCHESTRATOR_S3_BUCKET is required when ORCHESTRATOR_STORAGE_BACKEND=s3")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def signing_key(self) -> bytes:
        """The URL-signing secret: configured, or generated once and kept in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Exclusive create: processes starting together must all end up with the same secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        for _ in range(50):  # another process may be between creating and writing it
            value = path.read_text().strip()
            if value:
                return value.encode()
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it or set ORCHESTRATOR_SECRET_KEY")
