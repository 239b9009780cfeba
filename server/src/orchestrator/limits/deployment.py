"""Whether this deployment's limits are global, decided before ``serve`` starts its processes.

Rate limits and concurrency counts live in Redis when it is configured; without it each process
counts on its own, so N processes would let a key through N times. ``serve`` therefore runs one
process without Redis, refuses ``--workers N`` unless the operator accepts per-process limits
explicitly, and then splits each rate limit N ways (the sum never exceeds the limit) while running
every job through the database claim (which caps running jobs across processes).
"""

from __future__ import annotations

import os

from orchestrator.settings import Settings


def default_workers(settings: Settings) -> int:
    """One per core when limits can be shared (PostgreSQL with Redis); otherwise one."""
    if settings.is_sqlite or settings.redis_url is None:
        return 1
    return os.cpu_count() or 1


def workers_refusal(settings: Settings, workers: int) -> str | None:
    """Why ``serve`` must not start ``workers`` processes with these settings, or None."""
    if workers <= 1 or settings.redis_url is not None or settings.per_process_limits:
        return None
    return (
        f"--workers {workers} without Redis would count each key's rate limit and concurrency cap "
        f"per process ({workers}× the limit); set ORCHESTRATOR_REDIS_URL to share them, run "
        "--workers 1, or set ORCHESTRATOR_PER_PROCESS_LIMITS=true to split each rate limit across "
        "the processes and cap running jobs through the database only"
    )


def per_process_share(settings: Settings) -> int:
    """How many ways each rate limit is split in this process (1 = not split)."""
    if settings.redis_url is not None or settings.workers <= 1:
        return 1
    return settings.workers
