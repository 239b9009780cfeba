"""What a caller asks of the generation service, and what it gets back (for any door to shape)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.core.states import UNSUCCESSFUL, JobStatus
from orchestrator.db.models import Generation
from orchestrator.errors import APIError
from orchestrator.generation.outcome import failure_error


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """gpt-image's output options; None = the provider's default. Refused where unsupported."""

    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in ("background", "output_format", "output_compression", "moderation")
            if getattr(self, name) is not None
        }


@dataclass(frozen=True, slots=True)
class InputRef:
    """One input image as the caller gave it: exactly one of ``data`` (an upload), ``url`` (to
    fetch) or ``generation_id`` (+ ``index``: an image we already store)."""

    field: str
    """The request field it came in, named in any refusal (``image``, ``image[1]``, ``mask``)."""
    data: bytes | None = None
    url: str | None = None
    generation_id: str | None = None
    index: int = 0

    def fingerprint(self) -> str:
        if self.data is not None:
            return "sha256:" + hashlib.sha256(self.data).hexdigest()
        if self.url is not None:
            return "url:" + self.url
        return f"image:{self.generation_id}:{self.index}"


@dataclass(frozen=True, slots=True)
class SubmitParams:
    prompt: str
    model: str
    style: str | None
    size: str | None
    quality: str | None
    n: int
    seed: int | None
    negative_prompt: str | None
    metadata: dict[str, Any]
    batch_id: str | None = None
    batch_index: int | None = None
    operation: str = "generate"
    """``generate`` or an image operation (``providers.base.Operation``'s values)."""
    images: tuple[InputRef, ...] = ()
    mask: InputRef | None = None
    strength: float | None = None
    scale: int | None = None
    options: OutputOptions = field(default_factory=OutputOptions)
    partial_images: int = 0
    """0-3 partial images to stream, where the route's provider sends them (OpenAI's
    ``stream``); stored with the job's parameters so whichever worker runs it asks for them."""
    cache: bool | Literal["always"] | None = None
    """Result cache: True (seeded requests only), ``"always"`` (also without a seed), False (never),
    None (the key's default)."""


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the caller asked for about waiting (RFC 7240 ``Prefer``)."""

    respond_async: bool = False
    wait: float | None = None

    def max_wait(self, server_cap: float) -> float:
        return server_cap if self.wait is None else min(self.wait, server_cap)


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    """The answer to one generate call, for any door (REST, OpenAI-compatible) to shape.

    Either ``job`` (fresh or replayed) or, for an idempotent replay of a stored answer, ``stored``.
    """

    job: Generation | None
    replayed: bool = False
    accepted: bool = False
    """The caller asked not to wait (202 with the job, whatever its state)."""
    stored: tuple[int, dict[str, Any] | None] | None = None

    @property
    def status_code(self) -> int:
        if self.stored is not None:
            return self.stored[0]
        assert self.job is not None
        if self.job.status in UNSUCCESSFUL:
            return failure_error(self.job).status_code
        if self.accepted or self.job.status != JobStatus.SUCCEEDED:
            return 202
        return 200

    @property
    def error(self) -> APIError | None:
        """The error a failed or canceled job is answered with (None otherwise)."""
        if self.job is not None and self.job.status in UNSUCCESSFUL:
            return failure_error(self.job)
        return None


def fingerprinted(params: SubmitParams) -> dict[str, Any]:
    return {
        "prompt": params.prompt,
        "model": params.model,
        "style": params.style,
        "size": params.size,
        "quality": params.quality,
        "n": params.n,
        "seed": params.seed,
        "negative_prompt": params.negative_prompt,
        "metadata": params.metadata,
        **({} if params.cache is None else {"cache": params.cache}),
        **(
            {}
            if params.operation == "generate" and not params.options.as_json()
            else {
                "operation": params.operation,
                "images": [i.fingerprint() for i in params.images],
                "mask": None if params.mask is None else params.mask.fingerprint(),
                "strength": params.strength,
                "scale": params.scale,
                "options": params.options.as_json(),
            }
        ),
    }
