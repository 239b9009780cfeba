"""How many event streams (SSE) each principal holds open in this process.

A stream holds a connection and a subscription for as long as its job runs; without a cap one key
could hold hundreds. The cap is per process (streams are cheap to count and die with it).
"""

from __future__ import annotations


class StreamSlots:
    def __init__(self, per_principal: int) -> None:
        self.per_principal = per_principal
        self._open: dict[str, int] = {}

    def acquire(self, subject: str) -> StreamLease | None:
        """A lease on one more stream for ``subject``, or None when it holds its cap already."""
        current = self._open.get(subject, 0)
        if current >= self.per_principal:
            return None
        self._open[subject] = current + 1
        return StreamLease(self, subject)

    def open(self, subject: str) -> int:
        return self._open.get(subject, 0)

    def _release(self, subject: str) -> None:
        current = self._open.get(subject, 0)
        if current <= 1:
            self._open.pop(subject, None)
        else:
            self._open[subject] = current - 1


class StreamLease:
    """Released once, whichever comes first: the stream ending or the response being torn down."""

    def __init__(self, slots: StreamSlots, subject: str) -> None:
        self._slots = slots
        self._subject: str | None = subject

    def release(self) -> None:
        if self._subject is not None:
            self._slots._release(self._subject)
            self._subject = None
