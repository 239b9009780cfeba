"""Small shared types: the ``NOT_GIVEN`` sentinel and timeout aliases."""

from __future__ import annotations

from typing import Literal

import httpx

__all__ = ["NOT_GIVEN", "CacheOption", "NotGiven", "TimeoutTypes"]


class NotGiven:
    """The type of :data:`NOT_GIVEN`: "use the client's setting", as opposed to ``None``, which
    for ``timeout`` means "no limit"."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()
"""Default of per-call options: fall back to the client's value."""

TimeoutTypes = float | httpx.Timeout | None
"""Seconds for the whole call, an ``httpx.Timeout`` (its ``read`` value bounds the whole call,
the other parts cap each HTTP request's phases), or ``None`` for no limit."""

CacheOption = bool | Literal["always"]
"""The ``cache`` option of a generation or image operation: ``True`` serves a seeded request from
an identical earlier result (or shares an identical one in flight) at $0, ``"always"`` does so
without a seed too, ``False`` never; ``None`` (left out) uses the API key's default."""
