"""Delivers the webhook outbox: signed with ``standardwebhooks``, at least once, with backoff.

Every process runs one dispatcher; deliveries are claimed from the database (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so each attempt is made by one process. A 2xx marks the delivery done; a
410 disables the endpoint; anything else (or no answer) is retried with exponential backoff and
jitter, with the same ``webhook-id``, until ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from orchestrator import __version__
from orchestrator.core.clock import now_utc
from orchestrator.db.engine import Database
from orchestrator.db.repositories.webhooks import DueDelivery, WebhookRepository
from orchestrator.webhooks.targets import TargetNotAllowed, check_target

logger = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0


def sign_headers(secret: str, msg_id: str, payload: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, payload),
    }


class WebhookDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        max_attempts: int,
        retry_base: float,
        timeout: float,
        poll_interval: float,
        allow_private: bool,
        concurrency: int = 16,
    ) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.allow_private = allow_private
        self.concurrency = concurrency
        self.wakeup = asyncio.Event()
        # No redirects: a public URL must not bounce a signed event into a private network.
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"user-agent": f"freepik-ai-orchestrator/{__version__} (webhooks)"},
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="webhook-dispatch")

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the deliveries in hand (up to ``grace`` seconds), then stop; an interrupted one
        stays claimed until its hold expires and is retried then."""
        if self._task is not None:
            self._stopping = True
            self.wakeup.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()

    def wake(self) -> None:
        """Events were just queued in this process: deliver them without waiting for the poll."""
        self.wakeup.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self.wakeup.clear()
            wait = self.poll_interval
            try:
                # A read first: the common answer is "nothing due", and it must not take the
                # (SQLite: only) writer.
                async with self.db.read() as session:
                    next_due = await WebhookRepository(session).next_due()
                if next_due is not None:
                    wait = min(wait, (next_due - now_utc()).total_seconds())
                due = await self._claim() if wait <= 0 else []
            except Exception:
                logger.exception("claiming webhook deliveries failed")
                due = []
            if due:
                await asyncio.gather(*(self._deliver(d) for d in due))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=max(wait, 0.05))

    async def _claim(self) -> list[DueDelivery]:
        hold = timedelta(seconds=self.timeout + 30)
        return await self.db.transaction(
            lambda session: WebhookRepository(session).claim_due(
                now=now_utc(), limit=self.concurrency, hold=hold, for_update=not self.db.is_sqlite
            )
        )

    async def _deliver(self, delivery: DueDelivery) -> None:
        status_code: int | None = None
        error: str | None
        try:
            await check_target(delivery.url, allow_private=self.allow_private)
            headers = sign_headers(delivery.secret, delivery.id, delivery.payload, now_utc())
            response = await self._http.post(
                delivery.url,
                content=delivery.payload.encode(),
                headers={**headers, "content-type": "application/json"},
            )
            status_code = response.status_code
        except TargetNotAllowed as exc:
            error = f"target not allowed: {exc}"
        except httpx.HTTPError as exc:
            error = f"no answer: {type(exc).__name__}"
        else:
            error = None if 200 <= status_code < 300 else f"answered {status_code}"
        try:
            await self._record(delivery, status_code, error)
        except Exception:
            # The claim's hold expires and the delivery is tried again: at least once.
            logger.exception("recording webhook delivery %s failed", delivery.id)

    async def _record(self, delivery: DueDelivery, status_code: int | None, error: str | None) -> None:
        now = now_utc()

        async def work(repo: WebhookRepository) -> None:
            if error is None:
                await repo.finish(
                    [delivery.id], status="delivered", status_code=status_code, delivered_at=now
                )
            elif status_code == 410:
                await repo.finish([delivery.id], status="failed", status_code=410, error=error)
                await repo.disable_endpoint(delivery.endpoint_id, "the receiver answered 410 Gone")
                logger.warning("webhook endpoint %s answered 410: disabled", delivery.endpoint_id)
            elif delivery.attempts >= self.max_attempts:
                await repo.finish([delivery.id], status="failed", status_code=status_code, error=error)
                logger.warning(
                    "webhook %s failed after %d attempts: %s", delivery.id, delivery.attempts, error
                )
            else:
                await repo.retry_later(
                    delivery.id,
                    at=now + self._backoff(delivery.attempts),
                    status_code=status_code,
                    error=error,
                )

        await self.db.transaction(lambda session: work(WebhookRepository(session)))

    def _backoff(self, attempts: int) -> timedelta:
        # Exponential with ±20 % jitter, so retries of many events do not arrive in lockstep.
        delay = min(self.retry_base * 2 ** (attempts - 1), MAX_BACKOFF)
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))
