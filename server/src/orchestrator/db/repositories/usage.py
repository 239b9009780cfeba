"""All SQL about usage: totals and buckets summed from the costs stored on each generation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from orchestrator.db.json_values import metadata_value
from orchestrator.db.models import Generation


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    generations: int
    images: int
    cost_micros: int


@dataclass(frozen=True, slots=True)
class Totals:
    generations: int
    images: int
    cost_micros: int
    unpriced: int
    failed: int
    canceled: int = 0


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        ok = Generation.status == "succeeded"
        row = (
            await self.session.execute(
                select(
                    func.count().filter(ok),
                    func.coalesce(func.sum(Generation.n).filter(ok), 0),
                    func.coalesce(func.sum(Generation.cost_micros).filter(ok), 0),
                    func.count().filter(ok, Generation.cost_micros.is_(None)),
                    func.count().filter(Generation.status == "failed"),
                    func.count().filter(Generation.status == "canceled"),
                ).where(*scope)
            )
        ).one()
        return Totals(*(int(value or 0) for value in row))

    async def grouped(
        self, project: str, livemode: bool, start: datetime, end: datetime, dimension: str
    ) -> list[Bucket]:
        """Succeeded generations grouped by ``model``, ``day``, ``key``, ``operation`` or
        ``metadata.<name>``."""
        if dimension == "model":
            column: ColumnElement[Any] = Generation.model.expression
        elif dimension == "day":
            column = self._day()
        elif dimension == "key":
            column = Generation.api_key_id.expression
        elif dimension == "operation":
            column = Generation.operation.expression
        elif dimension.startswith("metadata."):
            column = metadata_value(dimension.removeprefix("metadata."), self.session.get_bind().dialect.name)
        else:
            raise ValueError(dimension)
        label = column.label("bucket")
        rows = await self.session.execute(
            select(
                label,
                func.count(),
                func.coalesce(func.sum(Generation.n), 0),
                func.coalesce(func.sum(Generation.cost_micros), 0),
            )
            .where(*self._scope(project, livemode, start, end), Generation.status == "succeeded")
            .group_by(label)
            .order_by(label)
        )
        return [
            Bucket(
                key=str(k) if k is not None else "(none)",
                generations=int(c),
                images=int(i),
                cost_micros=int(s),
            )
            for k, c, i, s in rows.all()
        ]
