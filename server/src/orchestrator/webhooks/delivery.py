"""One delivery attempt: check and pin the endpoint, POST the signed event, read a bounded answer.

The whole attempt (DNS, connect, send, answer) runs under one deadline, and at most
``ANSWER_CAP`` bytes of the answer are read, then the connection is closed: a receiver that
hangs, drips or answers without end costs one slot for ``deadline`` seconds and 64 KiB.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from orchestrator import __version__
from orchestrator.db.repositories.webhooks import DueDelivery
from orchestrator.outbound.guard import (
    Policy,
    outbound_client,
    pinned_stream,
    read_capped,
    resolve_target,
)
from orchestrator.outbound.targets import TargetRefused, parse_target

ANSWER_CAP = 64 * 1024
_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]*")
_SNIPPET = 80


def sign_headers(secret: str, msg_id: str, payload: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, payload),
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to. ``error`` is ``None`` when the event was delivered."""

    status_code: int | None
    error: str | None
    permanent: bool = False
    """No later attempt can succeed (the stored URL itself is unacceptable)."""


def printable(data: bytes | str, limit: int) -> str:
    """Text safe for a log line or a database column: printable ASCII, at most ``limit`` long,
    with anything shaped like a signing secret (a receiver may echo it) redacted."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    text = _SECRET.sub("[redacted secret]", "".join(c if " " <= c <= "~" else "?" for c in text))
    return text[:limit]


class Deliverer:
    """Makes attempts; holds the outbound HTTP client."""

    def __init__(self, *, policy: Policy, deadline: float) -> None:
        self.policy = policy
        self.deadline = deadline
        self._http = outbound_client(f"freepik-ai-orchestrator/{__version__} (webhooks)")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def attempt(self, delivery: DueDelivery, now: datetime) -> Outcome:
        try:
            target = parse_target(delivery.url)  # rows stored before the strict rules, too
        except TargetRefused as exc:
            return Outcome(None, f"url {exc.reason}", permanent=True)
        status: int | None = None
        try:
            async with asyncio.timeout(self.deadline):
                pinned = await resolve_target(target, self.policy, resolve_seconds=self.deadline)
                headers = sign_headers(delivery.secret, delivery.id, delivery.payload, now)
                async with pinned_stream(
                    self._http,
                    "POST",
                    pinned,
                    content=delivery.payload.encode(),
                    headers={**headers, "content-type": "application/json"},
                    step_seconds=self.deadline,
                ) as response:
                    status = response.status_code
                    body, more = await read_capped(response, ANSWER_CAP)
        except TargetRefused as exc:
            # A literal address never changes; a name may resolve elsewhere later.
            return Outcome(None, f"url {exc.reason}", permanent=target.address is not None)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(status, f"no complete answer within {self.deadline:g} s")
        except httpx.HTTPError as exc:
            return Outcome(status, f"no answer: {type(exc).__name__}")
        if more:
            return Outcome(
                status, f"answered {status} with more than {ANSWER_CAP // 1024} KiB; keep answers small"
            )
        if 200 <= status < 300:
            return Outcome(status, None)
        snippet = printable(body, _SNIPPET).strip()
        return Outcome(status, f"answered {status}" + (f": {snippet}" if snippet else ""))
