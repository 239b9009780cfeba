"""The team gallery over HTTP: search, stars, soft delete with undo, boards and zip downloads.

Reads need the ``read`` scope, changes the ``generate`` scope. Everything is scoped to the
caller's project and mode; another project's generation or board answers 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from orchestrator.api.deps import GenerateScope, ReadScope, ServicesDep
from orchestrator.api.generate import ERRORS
from orchestrator.api.inputs import SafeText, known_generation_id, safe_id
from orchestrator.api.listing import ListQuery, PageSize, check_page_size, generation_filter
from orchestrator.api.presenters import base_url, generation_out
from orchestrator.api.schemas import GenerationResponse, StrictBody
from orchestrator.auth.principal import Principal
from orchestrator.container import Services
from orchestrator.db.models import Board, Generation
from orchestrator.db.repositories.gallery import GallerySearch, GalleryState
from orchestrator.errors import ErrorCode, NotFound
from orchestrator.gallery.service import MAX_ARCHIVE_GENERATIONS

router = APIRouter(tags=["gallery"], responses=ERRORS)

_ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "A zip of the images, streamed."}
}


class GalleryItem(GenerationResponse):
    """A generation as the gallery shows it: with its star and the boards it is on."""

    starred: bool
    board_ids: list[str]


class GalleryPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[GalleryItem]
    has_more: bool
    next_cursor: str | None


class Deleted(BaseModel):
    id: str
    object: Literal["gallery_deletion"] = "gallery_deletion"
    deleted: Literal[True] = True
    restorable_until: datetime = Field(
        description="Until then `POST /gallery/{id}/restore` undoes the delete; afterwards the stored "
        "files are removed (the generation's cost stays in the usage history)."
    )


class BoardName(StrictBody):
    name: SafeText = Field(min_length=1, max_length=128, pattern=r"\S", description="Not blank.")


class BoardOut(BaseModel):
    id: str
    object: Literal["board"] = "board"
    name: str
    is_default: bool
    image_count: int = Field(description="Generations on the board (deleted ones excluded).")
    created_at: datetime


class BoardList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BoardOut]


class GenerationIds(StrictBody):
    ids: list[Annotated[SafeText, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=MAX_ARCHIVE_GENERATIONS, description="Generation ids."
    )


def _item(generation: Generation, state: GalleryState, services: Services, base: str) -> GalleryItem:
    return GalleryItem(
        **generation_out(generation, services, base).model_dump(),
        starred=state.starred,
        board_ids=list(state.board_ids),
    )


def _board_out(board: Board, count: int) -> BoardOut:
    return BoardOut(
        id=board.id,
        name=board.name,
        is_default=board.is_default,
        image_count=count,
        created_at=board.created_at,
    )


def _board_id(value: str) -> str:
    if not safe_id(value):
        raise NotFound("no such board", param="board_id", code=ErrorCode.NOT_FOUND)
    return value


def _zip(stream_name: str, chunks: object) -> StreamingResponse:
    # Headers are latin-1: an ASCII fallback name, and the real (UTF-8) one per RFC 6266 / 8187.
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in stream_name)
    fallback = ascii_name[:60] or "images"
    encoded = quote(f"{stream_name[:60]}.zip", safe="")
    disposition = f"attachment; filename=\"{fallback}.zip\"; filename*=UTF-8''{encoded}"
    return StreamingResponse(
        chunks,  # type: ignore[arg-type]
        media_type="application/zip",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


@router.get("/gallery", operation_id="searchGallery", response_model=GalleryPage)
async def search_gallery(
    request: Request,
    principal: ReadScope,
    services: ServicesDep,
    filters: ListQuery,
    limit: PageSize = 24,
    seed: Annotated[int | None, Query(ge=0, le=4_294_967_294)] = None,
    board_id: Annotated[
        SafeText | None, Query(max_length=64, description="Only this board's images.")
    ] = None,
    starred: Annotated[bool | None, Query(description="Only starred (true) or unstarred (false).")] = None,
) -> GalleryPage:
    """Newest first, deleted generations left out. `metadata.<key>=<value>` filters on metadata."""
    if board_id is not None:
        _board_id(board_id)
    check_page_size(limit, services)
    search = generation_filter(GallerySearch, filters, request, seed=seed, board_id=board_id, starred=starred)
    rows, has_more = await services.gallery.search(principal, search, filters.cursor, limit)
    base = base_url(request, services)
    return GalleryPage(
        data=[_item(g, s, services, base) for g, s in rows],
        has_more=has_more,
        next_cursor=rows[-1][0].id if has_more and rows else None,
    )


@router.post("/gallery/download", operation_id="downloadGalleryItems", responses=_ZIP)
async def download_selection(
    body: GenerationIds, principal: ReadScope, services: ServicesDep
) -> StreamingResponse:
    """A zip of the chosen generations' images (404 if one is not yours or was deleted)."""
    return _zip("images", await services.gallery.selection_archive(principal, body.ids))


async def _current_item(
    principal: Principal, generation_id: str, request: Request, services: Services
) -> GalleryItem:
    """The generation as the gallery shows it now (after a change, its new state)."""
    generation, state = await services.gallery.item(principal, generation_id)
    return _item(generation, state, services, base_url(request, services))


@router.get("/gallery/{generation_id}", operation_id="getGalleryItem", response_model=GalleryItem)
async def get_item(
    generation_id: str, request: Request, principal: ReadScope, services: ServicesDep
) -> GalleryItem:
    return await _current_item(principal, known_generation_id(generation_id), request, services)


async def _starred(
    starred: bool, generation_id: str, request: Request, principal: Principal, services: Services
) -> GalleryItem:
    """Star or unstar a generation, then the item as it is now (either twice is harmless)."""
    await services.gallery.star(principal, known_generation_id(generation_id), starred=starred)
    return await _current_item(principal, generation_id, request, services)


@router.put("/gallery/{generation_id}/star", operation_id="starGalleryItem", response_model=GalleryItem)
async def star(
    generation_id: str, request: Request, principal: GenerateScope, services: ServicesDep
) -> GalleryItem:
    """Star (pin) a generation; starring twice is harmless."""
    return await _starred(True, generation_id, request, principal, services)


@router.delete("/gallery/{generation_id}/star", operation_id="unstarGalleryItem", response_model=GalleryItem)
async def unstar(
    generation_id: str, request: Request, principal: GenerateScope, services: ServicesDep
) -> GalleryItem:
    return await _starred(False, generation_id, request, principal, services)


@router.delete("/gallery/{generation_id}", operation_id="deleteGalleryItem", response_model=Deleted)
async def delete_item(generation_id: str, principal: GenerateScope, services: ServicesDep) -> Deleted:
    """Soft delete: hidden at once, restorable until `restorable_until`, then its files are
    removed. Audited. A queued or running job must be canceled first (422)."""
    until = await services.gallery.delete(principal, known_generation_id(generation_id))
    return Deleted(id=generation_id, restorable_until=until)


@router.post(
    "/gallery/{generation_id}/restore", operation_id="restoreGalleryItem", response_model=GalleryItem
)
async def restore_item(
    generation_id: str, request: Request, principal: GenerateScope, services: ServicesDep
) -> GalleryItem:
    """Undo a delete within its window (404 once the files are removed)."""
    await services.gallery.restore(principal, known_generation_id(generation_id))
    return await _current_item(principal, generation_id, request, services)


@router.get("/boards", operation_id="listBoards", response_model=BoardList)
async def list_boards(principal: ReadScope, services: ServicesDep) -> BoardList:
    """The project's boards, the default board first (it always exists)."""
    return BoardList(data=[_board_out(b, n) for b, n in await services.gallery.boards(principal)])


@router.post("/boards", operation_id="createBoard", response_model=BoardOut, status_code=201)
async def create_board(body: BoardName, principal: GenerateScope, services: ServicesDep) -> BoardOut:
    """A new, empty board (422 if the name is taken)."""
    return _board_out(await services.gallery.create_board(principal, body.name.strip()), 0)


@router.patch("/boards/{board_id}", operation_id="renameBoard", response_model=BoardOut)
async def rename_board(
    board_id: str, body: BoardName, principal: GenerateScope, services: ServicesDep
) -> BoardOut:
    board = await services.gallery.rename_board(principal, _board_id(board_id), body.name.strip())
    return await _one_board(services, principal, board.id)


@router.delete("/boards/{board_id}", operation_id="deleteBoard", response_model=BoardOut)
async def delete_board(board_id: str, principal: GenerateScope, services: ServicesDep) -> BoardOut:
    """Remove a board; its images stay in the gallery. The default board cannot be deleted (422)."""
    return _board_out(await services.gallery.delete_board(principal, _board_id(board_id)), 0)


@router.post("/boards/{board_id}/items", operation_id="addBoardItems", response_model=BoardOut)
async def add_items(
    board_id: str, body: GenerationIds, principal: GenerateScope, services: ServicesDep
) -> BoardOut:
    """Put generations on a board (already there: unchanged)."""
    await services.gallery.add_to_board(principal, _board_id(board_id), body.ids)
    return await _one_board(services, principal, board_id)


@router.delete(
    "/boards/{board_id}/items/{generation_id}", operation_id="removeBoardItem", response_model=BoardOut
)
async def remove_item(
    board_id: str, generation_id: str, principal: GenerateScope, services: ServicesDep
) -> BoardOut:
    """Take a generation off a board (it stays in the gallery)."""
    await services.gallery.remove_from_board(
        principal, _board_id(board_id), known_generation_id(generation_id)
    )
    return await _one_board(services, principal, board_id)


@router.get("/boards/{board_id}/download", operation_id="downloadBoard", responses=_ZIP)
async def download_board(board_id: str, principal: ReadScope, services: ServicesDep) -> StreamingResponse:
    """A zip of the board's images, streamed as it is written."""
    name, chunks = await services.gallery.board_archive(principal, _board_id(board_id))
    return _zip(name, chunks)


async def _one_board(services: Services, principal: Principal, board_id: str) -> BoardOut:
    for board, count in await services.gallery.boards(principal):
        if board.id == board_id:
            return _board_out(board, count)
    raise NotFound(f"no board {board_id!r}", param="board_id", code=ErrorCode.NOT_FOUND)
