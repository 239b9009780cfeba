"""Gallery use cases. Every lookup is scoped to the caller's project and mode: another project's
generation or board is indistinguishable from a missing one (404)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.auth.principal import Principal
from orchestrator.core.clock import now_utc
from orchestrator.core.states import ACTIVE, JobStatus
from orchestrator.db.engine import Database
from orchestrator.db.models import AuditEvent, Board, Generation
from orchestrator.db.repositories.cache import CacheRepository
from orchestrator.db.repositories.gallery import GalleryRepository, GallerySearch, GalleryState
from orchestrator.db.repositories.generations import GenerationRepository
from orchestrator.errors import ErrorCode, InvalidRequest, NotFound
from orchestrator.gallery.archive import Entry, zip_stream
from orchestrator.ids import new_id
from orchestrator.storage.base import Storage, StorageError

logger = logging.getLogger(__name__)

DEFAULT_BOARD_NAME = "Default"
MAX_ARCHIVE_GENERATIONS = 500


def _not_found(generation_id: str) -> NotFound:
    return NotFound(f"no generation {generation_id!r}", param="id", code=ErrorCode.GENERATION_NOT_FOUND)


def _board_not_found(board_id: str) -> NotFound:
    return NotFound(f"no board {board_id!r}", param="board_id", code=ErrorCode.NOT_FOUND)


def _extension(content_type: str) -> str:
    return {"image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(content_type, "png")


class GalleryService:
    def __init__(self, db: Database, storage: Storage, *, undo_seconds: float) -> None:
        self.db = db
        self.storage = storage
        self.undo = timedelta(seconds=undo_seconds)

    # ------------------------------------------------------------------ reading

    async def search(
        self, principal: Principal, search: GallerySearch, cursor: str | None, limit: int
    ) -> tuple[list[tuple[Generation, GalleryState]], bool]:
        async with self.db.read() as session:
            repo = GalleryRepository(session)
            if search.board_id and await repo.board(search.board_id, **_tenant(principal)) is None:
                raise _board_not_found(search.board_id)
            rows, has_more = await repo.search(
                **_tenant(principal), search=search, cursor=cursor, limit=limit
            )
            states = await repo.states([g.id for g in rows])
        return [(g, states[g.id]) for g in rows], has_more

    async def item(self, principal: Principal, generation_id: str) -> tuple[Generation, GalleryState]:
        async with self.db.read() as session:
            generation = await _visible(session, principal, generation_id)
            state = (await GalleryRepository(session).states([generation.id]))[generation.id]
        return generation, state

    # ------------------------------------------------------------------ stars

    async def star(self, principal: Principal, generation_id: str, *, starred: bool) -> None:
        async def work(session: AsyncSession) -> None:
            generation = await _visible(session, principal, generation_id)
            await GalleryRepository(session).upsert_mark(
                generation.id, generation.project, starred_at=now_utc() if starred else None
            )

        await self.db.transaction(work)

    # ------------------------------------------------------------------ delete and undo

    async def delete(self, principal: Principal, generation_id: str) -> datetime:
        """Hide a generation now; its files go when the undo window ends. Returns that instant."""

        async def work(session: AsyncSession) -> datetime:
            generation = await _visible(session, principal, generation_id)
            if generation.status in ACTIVE:
                raise _refused(
                    f"generation {generation_id!r} is still {generation.status}; cancel it first",
                    param="id",
                )
            now = now_utc()
            purge_after = now + self.undo
            repo = GalleryRepository(session)
            await repo.upsert_mark(generation.id, generation.project, deleted_at=now, purge_after=purge_after)
            await repo.insert(
                _event(principal, "gallery.delete", generation.id, {"purge_after": purge_after})
            )
            return purge_after

        return await self.db.transaction(work)

    async def restore(self, principal: Principal, generation_id: str) -> None:
        """Undo a delete, while the files are still stored (404 afterwards)."""

        async def work(session: AsyncSession) -> None:
            generation = await _owned(session, principal, generation_id)
            repo = GalleryRepository(session)
            mark = await repo.mark(generation.id)
            if mark is None or mark.deleted_at is None:
                return
            if mark.purged_at is not None:
                raise NotFound(
                    f"generation {generation_id!r} was deleted and its files removed; it cannot be restored",
                    param="id",
                    code=ErrorCode.GENERATION_NOT_FOUND,
                )
            await repo.upsert_mark(generation.id, generation.project, deleted_at=None, purge_after=None)
            await repo.insert(_event(principal, "gallery.restore", generation.id, {}))

        await self.db.transaction(work)

    async def purge_due(self, now: datetime | None = None) -> int:
        """Remove the stored files of deletions past their undo window. Returns how many."""
        now = now or now_utc()
        async with self.db.read() as session:
            repo = GalleryRepository(session)
            due = [(m.generation_id, m.project) for m in await repo.due_for_purge(now)]
            files = {gid: await repo.images_of(gid) for gid, _ in due}
        purged = 0
        for generation_id, project in due:
            keys = [k for image in files[generation_id] for k in (image.storage_key, image.thumbnail_key)]
            # A cache hit shares its source's files (and the reverse): a file another generation
            # still shows is kept; only this one's image rows go. Read per generation, after the
            # previous one's rows are gone, so the last of them to be purged removes the files.
            async with self.db.read() as session:
                shared = await CacheRepository(session).shared_keys(keys, besides=generation_id)
            try:
                for key in keys:
                    if key not in shared:
                        await self.storage.delete(key)
            except (StorageError, OSError):
                logger.warning("gallery purge: storage refused a delete; retried later", exc_info=True)
                continue

            async def record(
                session: AsyncSession, gid: str = generation_id, proj: str = project, files: int = len(keys)
            ) -> None:
                repo = GalleryRepository(session)
                mark = await repo.mark(gid)
                if mark is None or mark.deleted_at is None or mark.purged_at is not None:
                    return  # restored meanwhile: the files are gone all the same, the row stays
                await repo.forget_images(gid)
                mark.purged_at = now_utc()
                await repo.insert(
                    AuditEvent(
                        id=new_id("aud"),
                        project=proj,
                        actor="system",
                        action="gallery.purge",
                        target=gid,
                        detail={"files": files},
                        created_at=now_utc(),
                    )
                )

            await self.db.transaction(record)
            purged += 1
        return purged

    async def audit_trail(self, principal: Principal, generation_id: str) -> list[AuditEvent]:
        async with self.db.read() as session:
            generation = await _owned(session, principal, generation_id)
            return await GalleryRepository(session).audit_trail(
                project=principal.project, target=generation.id
            )

    # ------------------------------------------------------------------ boards

    async def boards(self, principal: Principal) -> list[tuple[Board, int]]:
        """The project's boards, the default one first (created on first use)."""

        async def listing(session: AsyncSession) -> list[tuple[Board, int]]:
            repo = GalleryRepository(session)
            boards = await repo.boards(**_tenant(principal))
            sizes = await repo.board_sizes([b.id for b in boards])
            return [(b, sizes.get(b.id, 0)) for b in boards]

        async def create_default(session: AsyncSession) -> None:
            repo = GalleryRepository(session)  # checked again inside the write: one default only
            if not any(b.is_default for b in await repo.boards(**_tenant(principal))):
                await repo.insert(_new_board(principal, DEFAULT_BOARD_NAME, is_default=True))

        async with self.db.read() as session:
            found = await listing(session)
        if any(board.is_default for board, _ in found):
            return found
        with contextlib.suppress(IntegrityError):  # created meanwhile by another request
            await self.db.transaction(create_default)
        async with self.db.read() as session:
            return await listing(session)

    async def create_board(self, principal: Principal, name: str) -> Board:
        async def work(session: AsyncSession) -> Board:
            repo = GalleryRepository(session)
            await _unique_name(repo, principal, name)
            board = _new_board(principal, name, is_default=False)
            await repo.insert(board)
            return board

        return await _named(self.db.transaction(work), name)

    async def rename_board(self, principal: Principal, board_id: str, name: str) -> Board:
        async def work(session: AsyncSession) -> Board:
            repo = GalleryRepository(session)
            board = await _board(repo, principal, board_id)
            if board.name != name:
                await _unique_name(repo, principal, name)
                await repo.rename_board(board.id, name)
                board.name = name
            return board

        return await _named(self.db.transaction(work), name)

    async def delete_board(self, principal: Principal, board_id: str) -> Board:
        """Remove a board (its images stay in the gallery). The default board cannot go."""

        async def work(session: AsyncSession) -> Board:
            repo = GalleryRepository(session)
            board = await _board(repo, principal, board_id)
            if board.is_default:
                raise _refused("the default board cannot be deleted", param="board_id")
            await repo.delete_board(board.id)
            return board

        return await self.db.transaction(work)

    async def add_to_board(self, principal: Principal, board_id: str, generation_ids: Sequence[str]) -> None:
        async def work(session: AsyncSession) -> None:
            repo = GalleryRepository(session)
            board = await _board(repo, principal, board_id)
            now = now_utc()
            for generation_id in dict.fromkeys(generation_ids):
                generation = await _visible(session, principal, generation_id)
                await repo.add_item(board.id, generation.id, now)

        await self.db.transaction(work)

    async def remove_from_board(self, principal: Principal, board_id: str, generation_id: str) -> None:
        async def work(session: AsyncSession) -> None:
            repo = GalleryRepository(session)
            board = await _board(repo, principal, board_id)
            if not await repo.remove_item(board.id, generation_id):
                raise _not_found(generation_id)

        await self.db.transaction(work)

    # ------------------------------------------------------------------ downloads

    async def board_archive(self, principal: Principal, board_id: str) -> tuple[str, AsyncIterator[bytes]]:
        async with self.db.read() as session:
            repo = GalleryRepository(session)
            board = await _board(repo, principal, board_id)
            ids = await repo.board_generation_ids(board.id)
        return board.name, await self._archive(principal, ids[:MAX_ARCHIVE_GENERATIONS])

    async def selection_archive(
        self, principal: Principal, generation_ids: Sequence[str]
    ) -> AsyncIterator[bytes]:
        if len(generation_ids) > MAX_ARCHIVE_GENERATIONS:
            raise InvalidRequest(
                f"ids: at most {MAX_ARCHIVE_GENERATIONS} generations per download", param="ids"
            )
        return await self._archive(principal, list(dict.fromkeys(generation_ids)), strict=True)

    async def _archive(
        self, principal: Principal, generation_ids: Sequence[str], *, strict: bool = False
    ) -> AsyncIterator[bytes]:
        """Resolve every entry before the first byte is sent, so a bad id is a 404, not a cut stream."""
        entries: list[Entry] = []
        async with self.db.read() as session:
            for generation_id in generation_ids:
                try:
                    generation = await _visible(session, principal, generation_id)
                except NotFound:
                    if strict:
                        raise
                    continue
                if generation.status != JobStatus.SUCCEEDED:
                    continue
                for image in generation.images:
                    entries.append(
                        Entry(
                            name=f"{generation.id}-{image.idx}.{_extension(image.content_type)}",
                            key=image.storage_key,
                            modified=generation.finished_at or generation.created_at,
                        )
                    )
        return zip_stream(entries, self.storage.get)


def _refused(message: str, *, param: str) -> InvalidRequest:
    """A request the gallery's rules refuse (422; the message names the rule)."""
    return InvalidRequest(message, param=param)


class _Tenant(TypedDict):
    project: str
    livemode: bool


def _tenant(principal: Principal) -> _Tenant:
    return {"project": principal.project, "livemode": principal.livemode}


def _event(principal: Principal, action: str, target: str, detail: dict[str, object]) -> AuditEvent:
    return AuditEvent(
        id=new_id("aud"),
        project=principal.project,
        actor=principal.subject,
        action=action,
        target=target,
        detail={k: v.isoformat() if isinstance(v, datetime) else v for k, v in detail.items()},
        created_at=now_utc(),
    )


def _new_board(principal: Principal, name: str, *, is_default: bool) -> Board:
    return Board(
        id=new_id("brd"),
        **_tenant(principal),
        name=name,
        is_default=is_default,
        created_at=now_utc(),
    )


async def _owned(session: AsyncSession, principal: Principal, generation_id: str) -> Generation:
    generation = await GenerationRepository(session).get(generation_id, project=principal.project)
    if generation is None or generation.livemode != principal.livemode:
        raise _not_found(generation_id)
    return generation


async def _visible(session: AsyncSession, principal: Principal, generation_id: str) -> Generation:
    """The caller's generation, unless deleted (then 404, as in the gallery itself)."""
    generation = await _owned(session, principal, generation_id)
    mark = await GalleryRepository(session).mark(generation.id)
    if mark is not None and mark.deleted_at is not None:
        raise _not_found(generation_id)
    return generation


async def _board(repo: GalleryRepository, principal: Principal, board_id: str) -> Board:
    board = await repo.board(board_id, **_tenant(principal))
    if board is None:
        raise _board_not_found(board_id)
    return board


async def _named(write: Awaitable[Board], name: str) -> Board:
    """A board write; the name taken by a concurrent request is the same 422 as one taken before."""
    try:
        return await write
    except IntegrityError as exc:
        raise _refused(f"a board named {name!r} already exists", param="name") from exc


async def _unique_name(repo: GalleryRepository, principal: Principal, name: str) -> None:
    if await repo.board_named(name, **_tenant(principal)) is not None:
        raise _refused(f"a board named {name!r} already exists", param="name")
