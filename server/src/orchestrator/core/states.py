"""Job states: one table. Everything that asks "is this job finished?" reads it; nothing else
spells the sets out again. (Error codes have their own table: :mod:`orchestrator.errors.table`.)
"""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL: frozenset[str] = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
"""States a job never leaves."""
ACTIVE: frozenset[str] = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""States that count against a principal's concurrency cap (and its budget, with succeeded)."""
UNSUCCESSFUL: frozenset[str] = frozenset({JobStatus.FAILED, JobStatus.CANCELED})
