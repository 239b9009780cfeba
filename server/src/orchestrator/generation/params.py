"""What a caller asks of the generation service, and what it gets back (for any door to shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.core.states import UNSUCCESSFUL, JobStatus
from orchestrator.db.models import Generation
from orchestrator.errors import APIError
from orchestrator.generation.outcome import failure_error


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
    }
