"""All SQL about usage: totals and buckets summed from the costs stored on each generation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, case, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from orchestrator.db.json_values import metadata_value
from orchestrator.db.models import ApiKey, Generation, Image, Source
from orchestrator.db.repositories.base import Repository

ACTIVE_STATUSES = ("queued", "running")
GROUP_DIMENSIONS: tuple[str, ...] = (
    "model",
    "day",
    "key",
    "provider",
    "operation",
    "cache",
)
"""Named ``group_by`` values (besides ``metadata.<name>``); ``cache`` splits ``cached`` (served from
the result cache or shared with an identical request in flight) from ``uncached``."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One group: ``generations`` counts every status; images and cost count succeeded jobs."""

    key: str
    generations: int
    images: int
    cost_micros: int
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    active: int = 0
    name: str | None = None
    cached: int = 0
    saved_micros: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    generations: int
    """Every job created in the range, whatever its status (the history count)."""
    images: int
    cost_micros: int
    unpriced: int
    failed: int
    canceled: int = 0
    succeeded: int = 0
    active: int = 0
    cached: int = 0
    """Succeeded generations that shared another's result (a subset of ``succeeded``), at $0."""
    saved_micros: int = 0
    """What those shared results cost their sources: the cache's savings."""


@dataclass(frozen=True, slots=True)
class Spend:
    """Micro-dollars since a period start: charged (succeeded) and reserved (queued or running)."""

    spent_micros: int
    reserved_micros: int


def _counts() -> list[ColumnElement[Any]]:
    ok = Generation.status == "succeeded"
    return [
        func.count(),
        func.coalesce(func.sum(Generation.n).filter(ok), 0),
        func.coalesce(func.sum(Generation.cost_micros).filter(ok), 0),
        func.count().filter(ok),
        func.count().filter(Generation.status == "failed"),
        func.count().filter(Generation.status == "canceled"),
        func.count().filter(Generation.status.in_(ACTIVE_STATUSES)),
        func.count().filter(ok, Generation.cached_from.is_not(None)),
        func.coalesce(func.sum(Generation.saved_micros).filter(ok, Generation.cached_from.is_not(None)), 0),
    ]


class UsageRepository(Repository):
    def _scope(
        self, project: str, livemode: bool, start: datetime, end: datetime
    ) -> list[ColumnElement[bool]]:
        return [
            Generation.project == project,
            Generation.livemode == livemode,
            Generation.created_at >= start,
            Generation.created_at < end,
        ]

    def _day(self) -> ColumnElement[Any]:
        if self.session.get_bind().dialect.name == "sqlite":
            return func.date(Generation.created_at)
        return cast(func.timezone("UTC", Generation.created_at), Date)

    async def totals(self, project: str, livemode: bool, start: datetime, end: datetime) -> Totals:
        scope = self._scope(project, livemode, start, end)
        generations, images, cost, succeeded, failed, canceled, active, cached, saved = (
            await self.session.execute(select(*_counts()).where(*scope))
        ).one()
        unpriced = await self.session.scalar(
            select(func.count()).where(
                *scope, Generation.status == "succeeded", Generation.cost_micros.is_(None)
            )
        )
        return Totals(
            generations=int(generations or 0),
            images=int(images or 0),
            cost_micros=int(cost or 0),
            unpriced=int(unpriced or 0),
            failed=int(failed or 0),
            canceled=int(canceled or 0),
            succeeded=int(succeeded or 0),
            active=int(active or 0),
            cached=int(cached or 0),
            saved_micros=int(saved or 0),
        )

    async def storage_bytes(self, project: str, livemode: bool, start: datetime, end: datetime) -> int:
        """Bytes stored for the generations created in the range: their images and the inputs
        stored for them (uploads and fetched URLs; an input that is one of our stored images
        adds nothing, it is only referenced). A cached generation shares its source's files, so
        its images add nothing either."""
        scope = self._scope(project, livemode, start, end)
        outputs = await self.session.scalar(
            select(func.coalesce(func.sum(Image.bytes), 0))
            .join(Generation, Generation.id == Image.generation_id)
            .where(*scope, Generation.cached_from.is_(None))
        )
        inputs = await self.session.scalar(
            select(func.coalesce(func.sum(Source.bytes), 0))
            .join(Generation, Generation.id == Source.generation_id)
            .where(*scope, Source.origin != "generation")
        )
        return int(outputs or 0) + int(inputs or 0)

    async def grouped(
        self, project: str, livemode: bool, start: datetime, end: datetime, dimension: str
    ) -> list[Bucket]:
        """Generations of every status grouped by ``model``, ``day``, ``key``, ``provider``,
        ``operation`` or ``metadata.<name>``; for ``key`` each bucket also carries the key's name."""
        if dimension == "model":
            column: ColumnElement[Any] = Generation.model.expression
        elif dimension == "day":
            column = self._day()
        elif dimension == "key":
            column = Generation.api_key_id.expression
        elif dimension == "provider":
            column = Generation.provider.expression
        elif dimension == "operation":
            column = Generation.operation.expression
        elif dimension == "cache":
            column = case((Generation.cached_from.is_(None), "uncached"), else_="cached")
        elif dimension.startswith("metadata."):
            column = metadata_value(dimension.removeprefix("metadata."), self.session.get_bind().dialect.name)
        else:
            raise ValueError(dimension)
        label = column.label("bucket")
        rows = await self.session.execute(
            select(label, *_counts())
            .where(*self._scope(project, livemode, start, end))
            .group_by(label)
            .order_by(label)
        )
        buckets = rows.all()
        names: dict[str, str] = {}
        if dimension == "key":
            ids = [k for k, *_ in buckets if k is not None]
            if ids:
                found = await self.session.execute(
                    select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(ids), ApiKey.project == project)
                )
                names = {str(key_id): str(name) for key_id, name in found.all()}
        return [
            Bucket(
                key=str(k) if k is not None else "(none)",
                generations=int(c),
                images=int(i),
                cost_micros=int(s),
                succeeded=int(ok),
                failed=int(f),
                canceled=int(x),
                active=int(a),
                name=names.get(str(k)) if k is not None else None,
                cached=int(h),
                saved_micros=int(v),
            )
            for k, c, i, s, ok, f, x, a, h, v in buckets
        ]

    async def key_spend(self, key_ids: list[str], since: datetime) -> Spend:
        """What the given keys were charged and still hold in reservation since ``since``."""
        return await self._spend(Generation.api_key_id.in_(key_ids), since)

    async def pool_spend(self, pool_id: str, since: datetime) -> Spend:
        """:meth:`key_spend` of a budget pool: its owner key and every key drawing from it."""
        members = select(ApiKey.id).where(or_(ApiKey.id == pool_id, ApiKey.budget_pool_id == pool_id))
        return await self._spend(Generation.api_key_id.in_(members), since)

    async def _spend(self, who: ColumnElement[bool], since: datetime) -> Spend:
        cost = Generation.cost_micros
        spent, reserved = (
            await self.session.execute(
                select(
                    func.coalesce(func.sum(cost).filter(Generation.status == "succeeded"), 0),
                    func.coalesce(func.sum(cost).filter(Generation.status.in_(ACTIVE_STATUSES)), 0),
                ).where(who, Generation.created_at >= since)
            )
        ).one()
        return Spend(spent_micros=int(spent or 0), reserved_micros=int(reserved or 0))
