"""Rules for what a caller may send, shared by the request models and the query parameters.

Everything here runs before anything is stored or charged. The same rules hold on SQLite and
PostgreSQL: text that PostgreSQL cannot store (NUL) or that is not valid UTF-8 (lone surrogates)
is refused everywhere, so a request means the same thing on both databases.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from orchestrator.errors import ErrorCode, NotFound

METADATA_MAX_DEPTH = 5
METADATA_MAX_BYTES = 16 * 1024
METADATA_KEY_MAX_LENGTH = 64
MAX_BUDGET_USD = 1_000_000.0
MAX_PAGE_SIZE = 100
MAX_USAGE_DAYS = 366
# Metadata keys usable in history filters and usage breakdowns.
METADATA_FILTER_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The deepest metadata a stored row is rendered with; anything deeper becomes null (see present_metadata).
_RENDER_MAX_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None`` when it can."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000) characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogate code points)"
    return None


def safe_text(value: str) -> str:
    """Pydantic validator: ``value`` if storable (see :func:`text_problem`)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


SafeText = Annotated[str, AfterValidator(safe_text)]
"""A string that every database can store: no NUL, no lone surrogates."""


def _metadata_problem(value: Any, depth: int, path: str) -> str | None:
    """The first rule ``value`` breaks (depth, finiteness, text), or ``None``."""
    if isinstance(value, dict):
        if depth > METADATA_MAX_DEPTH:
            return f"is nested more than {METADATA_MAX_DEPTH} levels deep (at {path or 'the top'})"
        for key, item in value.items():
            if not isinstance(key, str):
                return "keys must be strings"
            problem = text_problem(key)
            if problem is not None:
                return f"key {path + key!r} {problem}"
            if len(key) > METADATA_KEY_MAX_LENGTH:
                return f"key {key[:20]!r}… is longer than {METADATA_KEY_MAX_LENGTH} characters"
            problem = _metadata_problem(item, depth + 1, f"{path}{key}.")
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        if depth > METADATA_MAX_DEPTH:
            return f"is nested more than {METADATA_MAX_DEPTH} levels deep (at {path or 'the top'})"
        for index, item in enumerate(value):
            problem = _metadata_problem(item, depth + 1, f"{path}{index}.")
            if problem is not None:
                return problem
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"value at {path.rstrip('.') or 'the top'} must be a finite number (no NaN or Infinity)"
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            return f"value at {path.rstrip('.')} {problem}"
    return None


def metadata_problem(value: dict[str, Any]) -> str | None:
    """Why ``value`` is not acceptable as metadata, or ``None``."""
    problem = _metadata_problem(value, 1, "")
    if problem is not None:
        return problem
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        return f"is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES}"
    return None


def _valid_metadata(value: dict[str, Any]) -> dict[str, Any]:
    problem = metadata_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_valid_metadata),
    Field(
        description=f"Your own tags; filterable in history. A JSON object with at most the server's "
        f"`max_metadata_keys` keys (32 by default), nested at most {METADATA_MAX_DEPTH} levels, at most "
        f"{METADATA_MAX_BYTES} bytes as JSON; numbers finite, text without NUL; keys of at most "
        f"{METADATA_KEY_MAX_LENGTH} characters (filterable keys: letters, digits, `_`, `.`, `-`).",
    ),
]


def _render(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if depth > _RENDER_MAX_DEPTH:
            return None
        return {str(k): _render(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth > _RENDER_MAX_DEPTH:
            return None
        return [_render(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and text_problem(value) is not None:
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def present_metadata(stored: Any) -> dict[str, Any]:
    """Stored metadata made safe to answer with, whatever the row holds.

    Rows written before today's rules (or by hand) may be deeper than any client expects, hold
    NaN or NUL: such values are answered as null (or with NUL removed) instead of failing the
    whole page. Valid metadata comes back unchanged.
    """
    if not isinstance(stored, dict):
        return {}
    if not stored or _metadata_problem(stored, 1, "") is None:  # the common case: no copy
        return stored
    rendered = _render(stored, 1)
    return rendered if isinstance(rendered, dict) else {}


def safe_id(value: str) -> bool:
    """Whether ``value`` could be one of our ids; anything else is simply not found."""
    return 0 < len(value) <= 64 and text_problem(value) is None


def known_generation_id(value: str) -> str:
    """A generation id from a path; one that cannot be ours (too long, NUL, ...) is simply not
    found, without asking the database."""
    if not safe_id(value):
        raise NotFound("no such generation", param="id", code=ErrorCode.GENERATION_NOT_FOUND)
    return value


# Dates the database can compare against. An instant beyond these (after converting to UTC)
# is clamped: no generation can be older or newer.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def clamp_instant(value: datetime | None) -> datetime | None:
    """``value`` in UTC (naive means UTC), clamped to what the database can store."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 lies past year 9999 in UTC
        return _LATEST if value.year > 5000 else _EARLIEST
    return min(max(utc, _EARLIEST), _LATEST)


def day_end(day: date) -> datetime:
    """The instant after ``day`` ends (UTC), clamped at the end of year 9999."""
    if day >= _LATEST.date():
        return _LATEST
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
