"""Retry arithmetic, with no I/O: which failures are retried, and how long to wait.

The rules (also in ``clients/spec/conformance.json``, which every SDK's tests load):

1. Never more than ``max_retries`` retries.
2. Connection errors and timeouts are retried with backoff.
3. ``x-should-retry: false`` forbids a retry; ``x-should-retry: true`` asks for one even on a
   status that is not normally retried.
4. A server wait hint (``retry-after-ms``, else ``Retry-After`` as seconds or an HTTP date)
   longer than ``MAX_RETRY_AFTER`` (30 s) means "not now": no retry, the error is raised with
   ``retry_after`` set so the caller can decide.
5. An error naming a ``generation_id`` reports a job that ran and failed (the server already
   retried and fell back across providers): final, since a retry would only replay it.
6. Otherwise retried: 408, 429, 5xx except 501 and 505, and 409 when it carries a wait hint
   (an idempotency key still in flight; a 409 without one is a real conflict).
7. The wait is the server's hint when there is one, else
   ``min(retry_backoff * 2**retries_so_far, max(8 s, retry_backoff)) * (1 - 0.25 * random())``.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

DEFAULT_MAX_RETRIES = 2
DEFAULT_RETRY_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 30.0
JITTER = 0.25

_NOT_RETRIED_5XX = frozenset({501, 505})


@dataclass(frozen=True)
class RetryDecision:
    """Whether to send the request again, and after how many seconds."""

    retry: bool
    delay: float = 0.0
    retry_after: float | None = None
    """The server's wait hint in seconds, when it sent one (kept even when not retrying)."""


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait, or ``None``.

    Reads ``retry-after-ms`` first, then ``retry-after`` as (fractional) seconds, then as an
    HTTP date relative to ``now`` (a UNIX timestamp). A date in the past means "now" (0).
    Negative, non-finite and unparsable values are ignored.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = _non_negative_float(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _non_negative_float(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000", also UTC
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def _non_negative_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def backoff_delay(retries_so_far: int, retry_backoff: float, random_value: float) -> float:
    """Exponential backoff with a cap and downward jitter.

    ``random_value`` is in [0, 1); the jitter factor ``1 - 0.25 * random_value`` keeps each
    wait within [75 %, 100 %] of the nominal value, so clients that failed together spread out.
    """
    cap = max(MAX_BACKOFF, retry_backoff)
    nominal = min(retry_backoff * (2.0**retries_so_far), cap)
    return nominal * (1.0 - JITTER * random_value)


def is_retryable_status(status: int, has_wait_hint: bool) -> bool:
    """Statuses retried without an explicit ``x-should-retry``."""
    if status in (408, 429):
        return True
    if status == 409:
        return has_wait_hint
    return status >= 500 and status not in _NOT_RETRIED_5XX


def decide(
    *,
    retries_so_far: int,
    max_retries: int,
    retry_backoff: float,
    status: int | None,
    headers: Mapping[str, str],
    now: float,
    random_value: float,
    body: Any = None,
) -> RetryDecision:
    """Decide for one failed attempt. ``status`` is ``None`` for a connection error or timeout;
    ``body`` is the decoded error body, if any."""
    retry_after = parse_retry_after(headers, now) if status is not None else None

    def no() -> RetryDecision:
        return RetryDecision(False, 0.0, retry_after)

    if retries_so_far >= max_retries:
        return no()
    backoff = backoff_delay(retries_so_far, retry_backoff, random_value)
    if status is None:
        return RetryDecision(True, backoff, None)
    should = {k.lower(): v for k, v in headers.items()}.get("x-should-retry", "").strip().lower()
    if should == "false":
        return no()
    if retry_after is not None and retry_after > MAX_RETRY_AFTER:
        return no()
    if _names_generation(body):
        return no()
    if should == "true" or is_retryable_status(status, retry_after is not None):
        return RetryDecision(True, retry_after if retry_after is not None else backoff, retry_after)
    return no()


def _names_generation(body: Any) -> bool:
    error = body.get("error") if isinstance(body, Mapping) else None
    return isinstance(error, Mapping) and bool(error.get("generation_id"))


def http_date(moment: datetime) -> str:
    """Format ``moment`` as an RFC 9110 HTTP date (used by tests and fixtures)."""
    return email.utils.format_datetime(moment.astimezone(timezone.utc), usegmt=True)
