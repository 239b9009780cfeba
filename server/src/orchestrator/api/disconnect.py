"""Noticing that an HTTP caller has hung up, for cancel-on-abandon."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request


def hang_up(request: Request) -> Callable[[], Awaitable[None]]:
    """A waiter that returns once the client disconnects (the body has already been read, so the
    next ASGI message can only be ``http.disconnect``)."""

    async def wait() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    return wait
