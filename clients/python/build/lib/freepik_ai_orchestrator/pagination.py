"""Auto-paging lists (cursor based: ``has_more`` + ``next_cursor``).

A page behaves like its current items for ``len()``, indexing and ``.data``; *iterating* it yields
every item of every following page, fetching each page only when the previous one is used up.
Use ``iter_pages()`` to work page by page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["AsyncPage", "SyncPage"]


class _PageBase(Generic[T]):
    def __init__(self, *, data: list[T], has_more: bool, next_cursor: str | None, cursor: str | None) -> None:
        self.data = data
        self.has_more = has_more
        self.next_cursor = next_cursor
        self.cursor = cursor
        """The cursor this page was fetched with (``None`` for the first page)."""

    def has_next_page(self) -> bool:
        # A cursor that does not move would loop forever; treat it as the end.
        return bool(self.has_more and self.next_cursor and self.next_cursor != self.cursor)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> T:
        return self.data[index]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(items={len(self.data)}, has_more={self.has_more}, "
            f"next_cursor={self.next_cursor!r})"
        )


class SyncPage(_PageBase[T]):
    """A page of a list endpoint; ``for item in page`` walks all pages lazily."""

    def __init__(
        self,
        *,
        data: list[T],
        has_more: bool,
        next_cursor: str | None,
        cursor: str | None,
        fetch: Callable[[str], SyncPage[T]],
    ) -> None:
        super().__init__(data=data, has_more=has_more, next_cursor=next_cursor, cursor=cursor)
        self._fetch = fetch

    def get_next_page(self) -> SyncPage[T]:
        if not self.has_next_page():
            raise RuntimeError("no more pages; check has_next_page() first")
        assert self.next_cursor is not None
        return self._fetch(self.next_cursor)

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        page: SyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.get_next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(_PageBase[T]):
    """A page of a list endpoint; ``async for item in page`` walks all pages lazily."""

    def __init__(
        self,
        *,
        data: list[T],
        has_more: bool,
        next_cursor: str | None,
        cursor: str | None,
        fetch: Callable[[str], Awaitable[AsyncPage[T]]],
    ) -> None:
        super().__init__(data=data, has_more=has_more, next_cursor=next_cursor, cursor=cursor)
        self._fetch = fetch

    async def get_next_page(self) -> AsyncPage[T]:
        if not self.has_next_page():
            raise RuntimeError("no more pages; check has_next_page() first")
        assert self.next_cursor is not None
        return await self._fetch(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.get_next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item
