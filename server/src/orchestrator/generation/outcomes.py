"""What a worker reports to the lifecycle, and what the lifecycle answers: typed, never dicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.core.clock import now_utc
from orchestrator.db.models import Generation, Image
from orchestrator.generation.routing import FailedAttempt

# ---------------------------------------------------------------------------- what a worker reports


@dataclass(frozen=True, slots=True)
class Success:
    """A provider served the job and its images are stored."""

    provider: str
    provider_model: str
    provider_job_id: str | None
    seed: int | None
    revised_prompt: str | None
    cost_micros: int | None
    provider_cost_micros: int | None
    provider_usage: dict[str, Any] | None
    processing_time: float
    images: Sequence[Image]
    trail: Sequence[FailedAttempt] = ()
    """Failed provider calls before the outcome (the attempt trail)."""
    budgeted: bool = True
    """Whether the charge may cross a budget threshold (see ``ResolvedRequest.budgeted``)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """The job cannot succeed; it is never charged."""

    code: str
    message: str
    provider: str | None
    processing_time: float
    trail: Sequence[FailedAttempt] = ()
    """Failed provider calls before the outcome (the attempt trail)."""


# ---------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Ended:
    """The job reached a terminal state; ``job`` is its final row."""

    job: Generation


class Succeeded(Ended):
    __slots__ = ()


class Failed(Ended):
    __slots__ = ()


class Canceled(Ended):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Superseded:
    """The worker's result was refused: the job was canceled or taken over meanwhile."""

    generation_id: str


@dataclass(frozen=True, slots=True)
class NotActive:
    """A cancel came too late: the job had already ended."""

    job: Generation


@dataclass(frozen=True, slots=True)
class Recovered:
    """One recovery pass: jobs whose lease expired were requeued, or failed with ``worker_lost``."""

    requeued: tuple[str, ...] = ()
    failed: tuple[Generation, ...] = ()
    followers: tuple[Generation, ...] = ()
    """Jobs deduplicated onto a failed one, failed with it."""


CancelOutcome = Canceled | NotActive


class NotLinked(Exception):
    """A cache hit or follower could not be linked after all (its source or leader is gone):
    raised to roll the linked submission back; the caller submits the job as a leader instead."""


def trail_rows(failures: Sequence[FailedAttempt]) -> list[dict[str, str]]:
    """The attempt trail as stored on the job: which providers were tried, and why they failed."""
    return [
        {"provider": f.provider, "model": f.model, "code": f.code, "message": f.message} for f in failures
    ]


def unsuccessful_values(status: str, code: str, message: str, now: datetime | None = None) -> dict[str, Any]:
    """The values every failed or canceled ending writes: unsuccessful jobs are never charged."""
    return {
        "status": status,
        "error_code": code,
        "error_message": message,
        "cost_micros": 0,
        "finished_at": now or now_utc(),
    }
