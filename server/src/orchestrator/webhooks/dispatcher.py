"""Delivers the webhook outbox: signed with ``standardwebhooks``, at least once, with backoff.

Every process runs one dispatcher; deliveries are claimed from the database (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so each attempt is made by one process. Deliveries run concurrently,
at most ``concurrency`` per process and ``endpoint_concurrency`` per endpoint, so a slow
receiver delays only its own events. A 2xx marks the delivery ``delivered``; a 410 makes it
``dead`` and disables the endpoint; anything else — an error answer, no answer within the
deadline, an answer over the cap, an unacceptable URL, a bug — is a recorded failed attempt
(``retrying``, with exponential backoff and jitter, same ``webhook-id``) until ``max_attempts``,
then ``dead``. A supervisor restarts the loop if it ever raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta

from orchestrator.core.clock import now_utc
from orchestrator.db.engine import Database
from orchestrator.db.repositories.webhooks import DueDelivery, WebhookRepository
from orchestrator.webhooks.delivery import Deliverer, Outcome, printable

logger = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0
MAX_RESTART_DELAY = 30.0
_ERROR_COLUMN = 256


class WebhookDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        deliverer: Deliverer,
        max_attempts: int,
        retry_base: float,
        poll_interval: float,
        concurrency: int = 16,
        endpoint_concurrency: int = 2,
        restart_delay: float = 1.0,
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.endpoint_concurrency = endpoint_concurrency
        self.restart_delay = restart_delay
        self.restarts = 0
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight: dict[asyncio.Task[None], str] = {}  # task -> endpoint id

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="webhook-dispatch")

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the deliveries in hand (up to ``grace`` seconds), then stop; an interrupted one
        stays claimed until its hold expires and is retried then."""
        self._stopping = True
        self.wakeup.set()
        tasks = [t for t in (self._task, *self._in_flight) if t is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.deliverer.aclose()

    def wake(self) -> None:
        """Events were just queued in this process: deliver them without waiting for the poll."""
        self.wakeup.set()

    async def _supervise(self) -> None:
        delay = self.restart_delay
        while not self._stopping:
            try:
                await self._loop()
            except Exception:
                self.restarts += 1
                logger.exception("webhook dispatcher loop crashed; restarting in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=delay)
                delay = min(delay * 2, MAX_RESTART_DELAY)
            else:
                return

    async def _loop(self) -> None:
        while not self._stopping:
            self.wakeup.clear()
            wait = self.poll_interval
            free = self.concurrency - len(self._in_flight)
            if free > 0:
                due, wait = await self._due(free)
                for delivery in due:
                    self._spawn(delivery)
                if due:
                    continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=max(wait, 0.05))

    async def _due(self, free: int) -> tuple[list[DueDelivery], float]:
        """Claimed deliveries, and how long to wait when there are none."""
        try:
            # A read first: the common answer is "nothing due", and it must not take the
            # (SQLite: only) writer.
            async with self.db.read() as session:
                next_due = await WebhookRepository(session).next_due()
            if next_due is None:
                return [], self.poll_interval
            wait = (next_due - now_utc()).total_seconds()
            if wait > 0:
                return [], min(wait, self.poll_interval)
            # Due, but perhaps only for endpoints already at their limit: wait for a slot.
            return await self._claim(free), self.poll_interval
        except Exception:
            logger.exception("claiming webhook deliveries failed")
            return [], self.poll_interval

    async def _claim(self, free: int) -> list[DueDelivery]:
        busy: dict[str, int] = {}
        for endpoint_id in self._in_flight.values():
            busy[endpoint_id] = busy.get(endpoint_id, 0) + 1
        hold = timedelta(seconds=self.deliverer.deadline + 30)
        return await self.db.transaction(
            lambda session: WebhookRepository(session).claim_due(
                now=now_utc(),
                limit=free,
                per_endpoint=self.endpoint_concurrency,
                busy=busy,
                hold=hold,
                for_update=not self.db.is_sqlite,
            )
        )

    def _spawn(self, delivery: DueDelivery) -> None:
        task = asyncio.create_task(self._deliver(delivery), name=f"webhook-{delivery.id}")
        self._in_flight[task] = delivery.endpoint_id
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self.wakeup.set()  # a slot is free

    async def _deliver(self, delivery: DueDelivery) -> None:
        if delivery.attempts > self.max_attempts:
            # Claimed before, but no outcome was ever recorded (the process died each time).
            outcome = Outcome(None, "gave up: no outcome was recorded for earlier attempts", permanent=True)
        else:
            try:
                outcome = await self.deliverer.attempt(delivery, now_utc())
            except Exception as exc:
                logger.exception("webhook delivery %s raised", delivery.id)
                outcome = Outcome(None, f"internal error ({type(exc).__name__})")
        try:
            await self._record(delivery, outcome)
        except Exception:
            # The claim's hold expires and the delivery is tried again: at least once.
            logger.exception("recording webhook delivery %s failed", delivery.id)

    async def _record(self, delivery: DueDelivery, outcome: Outcome) -> None:
        now = now_utc()
        error = None if outcome.error is None else printable(outcome.error, _ERROR_COLUMN)
        code = outcome.status_code

        async def work(repo: WebhookRepository) -> None:
            if error is None:
                await repo.finish([delivery.id], status="delivered", status_code=code, delivered_at=now)
            elif code == 410:
                await repo.finish([delivery.id], status="dead", status_code=410, error=error)
                await repo.disable_endpoint(delivery.endpoint_id, "the receiver answered 410 Gone")
                logger.warning("webhook endpoint %s answered 410: disabled", delivery.endpoint_id)
            elif outcome.permanent or delivery.attempts >= self.max_attempts:
                await repo.finish([delivery.id], status="dead", status_code=code, error=error)
                logger.warning(
                    "webhook %s dead after %d attempts: %s",
                    delivery.id,
                    delivery.attempts,
                    error,
                    extra={"endpoint_id": delivery.endpoint_id},
                )
            else:
                await repo.retry_later(
                    delivery.id, at=now + self._backoff(delivery.attempts), status_code=code, error=error
                )

        await self.db.transaction(lambda session: work(WebhookRepository(session)))

    def _backoff(self, attempts: int) -> timedelta:
        # Exponential with ±20 % jitter, so retries of many events do not arrive in lockstep.
        delay = min(self.retry_base * 2 ** (attempts - 1), MAX_BACKOFF)
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))
