"""Query parameters shared by the list endpoints (generations, gallery), declared once so they
validate and document alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request

from orchestrator.api.inputs import MAX_PAGE_SIZE, METADATA_FILTER_KEY, SafeText, clamp_instant, text_problem
from orchestrator.container import Services
from orchestrator.db.repositories.listing import GenerationFilter
from orchestrator.errors import ErrorCode, InvalidRequest

PageSize = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Page size, 1 to {MAX_PAGE_SIZE} (a server may set a lower cap: 422 above it).",
    ),
]
PageCursor = Annotated[
    SafeText | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]
PromptContains = Annotated[SafeText | None, Query(max_length=200, description="Text the prompt contains.")]
ModelName = Annotated[SafeText | None, Query(max_length=64)]
StatusFilter = Literal["queued", "running", "succeeded", "failed", "canceled"] | None
CreatedSince = Annotated[
    datetime | None,
    Query(description="Created at or after (ISO 8601; no offset = UTC; clamped to years 1970-9999)."),
]
CreatedBefore = Annotated[
    datetime | None,
    Query(description="Created before (ISO 8601; no offset = UTC; clamped to years 1970-9999)."),
]


def check_page_size(limit: int, services: Services) -> None:
    """Refuse a page larger than this server's cap (``ORCHESTRATOR_MAX_PAGE_SIZE``), naming it."""
    cap = services.settings.max_page_size
    if limit > cap:
        raise InvalidRequest(f"limit must be at most {cap}", param="limit")


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The filters every list endpoint takes, parsed: instants in UTC, clamped to what is stored."""

    cursor: str | None
    query: str | None
    model: str | None
    status: str | None
    since: datetime | None
    until: datetime | None


def list_filters(
    cursor: PageCursor = None,
    q: PromptContains = None,
    model: ModelName = None,
    status: StatusFilter = None,
    since: CreatedSince = None,
    until: CreatedBefore = None,
) -> ListFilters:
    return ListFilters(
        cursor=cursor,
        query=q,
        model=model,
        status=status,
        since=clamp_instant(since),
        until=clamp_instant(until),
    )


ListQuery = Annotated[ListFilters, Depends(list_filters)]

Filter = TypeVar("Filter", bound=GenerationFilter)


def generation_filter(kind: type[Filter], filters: ListFilters, request: Request, **own: Any) -> Filter:
    """``kind`` (the history's or the gallery's filter) from the parameters every list shares,
    the request's ``metadata.<key>`` pairs and the list's ``own`` ones."""
    return kind(
        query=filters.query,
        model=filters.model,
        status=filters.status,
        since=filters.since,
        until=filters.until,
        metadata=metadata_filters(request.query_params.multi_items()),
        **own,
    )


def metadata_filters(params: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``metadata.<key>=<value>`` query parameters as (key, value) pairs, each checked."""
    pairs = []
    for name, value in params:
        if not name.startswith("metadata.") or len(name) == len("metadata."):
            continue
        key = name.removeprefix("metadata.")
        problem = text_problem(name) or text_problem(value)
        if problem is None and not METADATA_FILTER_KEY.fullmatch(key):
            problem = f"key must match {METADATA_FILTER_KEY.pattern}"
        if problem is None and len(value) > 1000:
            problem = "value must be at most 1000 characters"
        if problem is not None:
            raise InvalidRequest(f"{name}: {problem}", param=name, code=ErrorCode.INVALID_FIELD)
        pairs.append((key, value))
    return tuple(pairs)
