"""In-process job events: progress and state changes for waiters and SSE streams.

A waiter also re-reads the database now and then, so a job finished by another process is seen
too; a shared bus (Redis or PostgreSQL NOTIFY) can replace this class for faster cross-process
wake-ups without touching its callers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.generation.states import TERMINAL

if TYPE_CHECKING:
    from orchestrator.db.models import Generation


@dataclass(frozen=True, slots=True)
class JobEvent:
    generation_id: str
    status: str
    progress: float
    generation: Generation | None = None
    """The job's final state, on terminal events published by the worker that finished it."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


EventListener = Callable[[JobEvent], None]
logger = logging.getLogger(__name__)


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[JobEvent]]] = defaultdict(set)
        self.work_available = asyncio.Event()
        # Whether the last claim may have left queued jobs behind; while it is false, finishing
        # a job need not wake the dispatcher (jobs from other processes are found by polling).
        self.queue_may_have_work = True
        self._listeners: list[EventListener] = []

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener`` with every event of every job (metrics, logs). It runs inline, so it
        must be quick; an exception in it is logged and never reaches the job."""
        self._listeners.append(listener)

    def publish(self, event: JobEvent) -> None:
        for queue in self._subscribers.get(event.generation_id, ()):
            queue.put_nowait(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("job event listener failed")

    def subscribe(self, generation_id: str) -> asyncio.Queue[JobEvent]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._subscribers[generation_id].add(queue)
        return queue

    def unsubscribe(self, generation_id: str, queue: asyncio.Queue[JobEvent]) -> None:
        subscribers = self._subscribers.get(generation_id)
        if subscribers is not None:
            subscribers.discard(queue)
            if not subscribers:
                del self._subscribers[generation_id]

    def wake_workers(self) -> None:
        self.queue_may_have_work = True
        self.work_available.set()

    def queue_drained(self) -> None:
        self.queue_may_have_work = False
