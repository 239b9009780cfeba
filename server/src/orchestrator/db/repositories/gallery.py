"""All SQL about the gallery: search, stars, soft deletes, boards and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update

from orchestrator.db.models import AuditEvent, Board, BoardItem, GalleryMark, Generation, Image
from orchestrator.db.repositories.base import Repository
from orchestrator.db.repositories.listing import GenerationFilter, filtered, newest_first


@dataclass(frozen=True, slots=True)
class GallerySearch(GenerationFilter):
    """What the gallery shows: a project's generations, minus the deleted ones, filtered."""

    seed: int | None = None
    board_id: str | None = None
    starred: bool | None = None


@dataclass(frozen=True, slots=True)
class GalleryState:
    """A generation's gallery marks, as the API shows them."""

    starred: bool = False
    board_ids: tuple[str, ...] = ()


class GalleryRepository(Repository):
    # ------------------------------------------------------------------ search

    async def search(
        self, *, project: str, livemode: bool, search: GallerySearch, cursor: str | None, limit: int
    ) -> tuple[list[Generation], bool]:
        """Newest first; ids are time-ordered, so the cursor is the last id seen."""
        deleted = exists().where(
            GalleryMark.generation_id == Generation.id, GalleryMark.deleted_at.is_not(None)
        )
        stmt = select(Generation).where(
            Generation.project == project, Generation.livemode == livemode, ~deleted
        )
        stmt = filtered(stmt, search, self.session)
        if search.seed is not None:
            stmt = stmt.where(Generation.seed == search.seed)
        if search.board_id:
            stmt = stmt.where(
                exists().where(
                    BoardItem.generation_id == Generation.id, BoardItem.board_id == search.board_id
                )
            )
        if search.starred is not None:
            starred = exists().where(
                GalleryMark.generation_id == Generation.id, GalleryMark.starred_at.is_not(None)
            )
            stmt = stmt.where(starred if search.starred else ~starred)
        return await newest_first(self.session, stmt, cursor, limit)

    async def states(self, generation_ids: Sequence[str]) -> dict[str, GalleryState]:
        """Stars and board memberships of these generations (absent ids: no marks)."""
        if not generation_ids:
            return {}
        starred = set(
            (
                await self.session.execute(
                    select(GalleryMark.generation_id).where(
                        GalleryMark.generation_id.in_(generation_ids), GalleryMark.starred_at.is_not(None)
                    )
                )
            ).scalars()
        )
        boards: dict[str, list[str]] = {}
        rows = await self.session.execute(
            select(BoardItem.generation_id, BoardItem.board_id)
            .where(BoardItem.generation_id.in_(generation_ids))
            .order_by(BoardItem.added_at)
        )
        for generation_id, board_id in rows.all():
            boards.setdefault(generation_id, []).append(board_id)
        return {
            gid: GalleryState(starred=gid in starred, board_ids=tuple(boards.get(gid, ())))
            for gid in generation_ids
        }

    # ------------------------------------------------------------------ marks

    async def mark(self, generation_id: str) -> GalleryMark | None:
        return await self.session.get(GalleryMark, generation_id)

    async def upsert_mark(self, generation_id: str, project: str, **values: Any) -> GalleryMark:
        mark = await self.mark(generation_id)
        if mark is None:
            mark = GalleryMark(
                generation_id=generation_id,
                project=project,
                starred_at=None,
                deleted_at=None,
                purge_after=None,
                purged_at=None,
            )
            self.session.add(mark)
        for name, value in values.items():
            setattr(mark, name, value)
        await self.session.flush()
        return mark

    async def due_for_purge(self, now: datetime, limit: int = 100) -> list[GalleryMark]:
        """Deleted generations whose undo window has passed and whose files are still stored."""
        stmt = (
            select(GalleryMark)
            .where(
                GalleryMark.deleted_at.is_not(None),
                GalleryMark.purged_at.is_(None),
                GalleryMark.purge_after <= now,
            )
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def images_of(self, generation_id: str) -> list[Image]:
        rows = await self.session.execute(
            select(Image).where(Image.generation_id == generation_id).order_by(Image.idx)
        )
        return list(rows.scalars())

    async def forget_images(self, generation_id: str) -> None:
        """Drop the image rows once their files are gone (the generation row and cost stay)."""
        await self.session.execute(delete(Image).where(Image.generation_id == generation_id))
        await self.session.execute(delete(BoardItem).where(BoardItem.generation_id == generation_id))

    # ------------------------------------------------------------------ boards

    async def boards(self, *, project: str, livemode: bool) -> list[Board]:
        stmt = (
            select(Board)
            .where(Board.project == project, Board.livemode == livemode)
            .order_by(Board.is_default.desc(), Board.created_at, Board.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def board(self, board_id: str, *, project: str, livemode: bool) -> Board | None:
        stmt = select(Board).where(Board.id == board_id, Board.project == project, Board.livemode == livemode)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def board_named(self, name: str, *, project: str, livemode: bool) -> Board | None:
        stmt = select(Board).where(Board.name == name, Board.project == project, Board.livemode == livemode)
        return (await self.session.execute(stmt)).scalars().first()

    async def rename_board(self, board_id: str, name: str) -> None:
        await self.session.execute(
            update(Board)
            .where(Board.id == board_id)
            .values(name=name)
            .execution_options(synchronize_session=False)
        )

    async def delete_board(self, board_id: str) -> None:
        await self.session.execute(delete(BoardItem).where(BoardItem.board_id == board_id))
        await self.session.execute(delete(Board).where(Board.id == board_id))

    async def add_item(self, board_id: str, generation_id: str, now: datetime) -> None:
        present = await self.session.get(BoardItem, (board_id, generation_id))
        if present is None:
            await self.insert(BoardItem(board_id=board_id, generation_id=generation_id, added_at=now))

    async def remove_item(self, board_id: str, generation_id: str) -> bool:
        result = await self.session.execute(
            delete(BoardItem).where(BoardItem.board_id == board_id, BoardItem.generation_id == generation_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def board_sizes(self, board_ids: Sequence[str]) -> dict[str, int]:
        if not board_ids:
            return {}
        deleted = exists().where(
            GalleryMark.generation_id == BoardItem.generation_id, GalleryMark.deleted_at.is_not(None)
        )
        rows = await self.session.execute(
            select(BoardItem.board_id, func.count())
            .where(BoardItem.board_id.in_(board_ids), ~deleted)
            .group_by(BoardItem.board_id)
        )
        return {board_id: int(n) for board_id, n in rows.all()}

    async def board_generation_ids(self, board_id: str) -> list[str]:
        deleted = exists().where(
            GalleryMark.generation_id == BoardItem.generation_id, GalleryMark.deleted_at.is_not(None)
        )
        rows = await self.session.execute(
            select(BoardItem.generation_id)
            .where(BoardItem.board_id == board_id, ~deleted)
            .order_by(BoardItem.generation_id.desc())
        )
        return list(rows.scalars())

    # ------------------------------------------------------------------ audit

    async def audit_trail(self, *, project: str, target: str) -> list[AuditEvent]:
        rows = await self.session.execute(
            select(AuditEvent)
            .where(AuditEvent.project == project, AuditEvent.target == target)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
        return list(rows.scalars())
