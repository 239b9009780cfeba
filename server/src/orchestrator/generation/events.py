"""Job events: progress and state changes for waiters and SSE streams.

Events are delivered in-process; with a bus attached (``generation/bus.py``, Redis pub/sub) they
also reach the other processes, and theirs reach us. A waiter still re-reads the database now and
then, so a job finished elsewhere is seen even when no bus is configured or it is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from orchestrator.core.states import TERMINAL

if TYPE_CHECKING:
    from orchestrator.db.models import Generation

_Q = TypeVar("_Q")


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


@dataclass(frozen=True, slots=True)
class PartialImage:
    """A partial image a provider streamed for a running job (OpenAI's ``partial_images``)."""

    generation_id: str
    index: int
    data: bytes
    content_type: str
    width: int | None = None
    height: int | None = None


EventListener = Callable[[JobEvent], None]
logger = logging.getLogger(__name__)


class EventBus(Protocol):
    """Carries events to the other processes of a deployment."""

    healthy: bool

    def job_event(self, event: JobEvent) -> None: ...

    def work_queued(self) -> None: ...

    def partial_image(self, partial: PartialImage) -> None: ...


class EventHub:
    def __init__(self) -> None:
        self._bus: EventBus | None = None
        self._terminal_listeners: list[EventListener] = []
        self._subscribers: dict[str, set[asyncio.Queue[JobEvent]]] = defaultdict(set)
        self.work_available = asyncio.Event()
        # Whether the last claim may have left queued jobs behind; while it is false, finishing
        # a job need not wake the dispatcher (jobs from other processes are found by polling).
        self.queue_may_have_work = True
        self._listeners: list[EventListener] = []
        self._running_here: set[str] = set()
        # Partial images of running jobs (here, or elsewhere over the bus), kept until the job
        # ends so a stream that subscribes a moment after the provider sent one still relays it.
        self._partials: dict[str, list[PartialImage]] = {}
        self._partial_queues: dict[str, set[asyncio.Queue[PartialImage]]] = defaultdict(set)

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener`` with every event of every job (metrics, logs). It runs inline, so it
        must be quick; an exception in it is logged and never reaches the job."""
        self._listeners.append(listener)

    def attach_bus(self, bus: EventBus | None) -> None:
        self._bus = bus

    @property
    def shared(self) -> bool:
        """Whether events from other processes reach this hub right now."""
        return self._bus is not None and self._bus.healthy

    def running_here(self, generation_id: str, running: bool = True) -> None:
        """A worker of this process started (or stopped) running ``generation_id``."""
        if running:
            self._running_here.add(generation_id)
        else:
            self._running_here.discard(generation_id)

    def reports(self, generation_id: str) -> bool:
        """Whether ``generation_id``'s end will be published in this process (no need to poll)."""
        return generation_id in self._running_here

    def backstop(self, poll_interval: float) -> float:
        """How long a waiter for a job running elsewhere may sleep before re-reading it: short
        while it must poll, long while the bus brings the job's events."""
        return max(poll_interval * 2, 15.0) if self.shared else poll_interval * 2

    def publish(self, event: JobEvent) -> None:
        """Deliver here and to every other process. Listeners hear the events of this
        process's jobs only, so per-process metrics never count a job twice."""
        self.deliver(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("job event listener failed")
        if self._bus is not None:
            self._bus.job_event(event)

    def publish_partial(self, partial: PartialImage) -> None:
        """A partial image of a job running here, for the streams relaying it (in every process)."""
        self.deliver_partial(partial)
        if self._bus is not None:
            self._bus.partial_image(partial)

    def deliver_partial(self, partial: PartialImage) -> None:
        """Deliver to this process's streams only."""
        self._partials.setdefault(partial.generation_id, []).append(partial)
        for queue in self._partial_queues.get(partial.generation_id, ()):
            queue.put_nowait(partial)

    def subscribe_partials(
        self, generation_id: str
    ) -> tuple[list[PartialImage], asyncio.Queue[PartialImage]]:
        """The partial images already sent for ``generation_id`` and a queue of the next ones."""
        queue: asyncio.Queue[PartialImage] = asyncio.Queue()
        self._partial_queues[generation_id].add(queue)
        return list(self._partials.get(generation_id, ())), queue

    def unsubscribe_partials(self, generation_id: str, queue: asyncio.Queue[PartialImage]) -> None:
        _forget(self._partial_queues, generation_id, queue)

    def on_terminal(self, listener: EventListener) -> None:
        """Call ``listener`` for every job that ends, here or (with a bus) elsewhere."""
        self._terminal_listeners.append(listener)

    def deliver(self, event: JobEvent) -> None:
        """Deliver to this process's subscribers only."""
        if event.terminal:
            self._partials.pop(event.generation_id, None)
            for listener in self._terminal_listeners:
                try:
                    listener(event)
                except Exception:
                    logger.exception("job end listener failed")
        for queue in self._subscribers.get(event.generation_id, ()):
            queue.put_nowait(event)

    def subscribe(self, generation_id: str) -> asyncio.Queue[JobEvent]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._subscribers[generation_id].add(queue)
        return queue

    def unsubscribe(self, generation_id: str, queue: asyncio.Queue[JobEvent]) -> None:
        _forget(self._subscribers, generation_id, queue)

    def wake_workers(self) -> None:
        """Queued work exists: wake this process's dispatcher and the other processes'."""
        self.wake_local_workers()
        if self._bus is not None:
            self._bus.work_queued()

    def wake_local_workers(self) -> None:
        self.queue_may_have_work = True
        self.work_available.set()

    def queue_drained(self) -> None:
        self.queue_may_have_work = False


def _forget(queues: MutableMapping[str, set[_Q]], generation_id: str, queue: _Q) -> None:
    """Drop ``queue`` from a job's subscribers, and the job's entry with its last one."""
    subscribers = queues.get(generation_id)
    if subscribers is not None:
        subscribers.discard(queue)
        if not subscribers:
            del queues[generation_id]
