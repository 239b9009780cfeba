"""All SQL about idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from orchestrator.db.models import IdempotencyRecord
from orchestrator.db.repositories.base import Repository


class IdempotencyRepository(Repository):
    async def get(self, project: str, key: str) -> IdempotencyRecord | None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.project == project, IdempotencyRecord.key == key
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def try_insert(self, record: IdempotencyRecord) -> bool:
        """Claim the key. False if another request already holds it (unique constraint)."""
        try:
            async with self.session.begin_nested():
                await self.insert(record)
        except IntegrityError:
            return False
        return True

    async def complete(
        self, project: str, key: str, *, status: int, body: str, generation_id: str | None
    ) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.project == project, IdempotencyRecord.key == key)
            .values(status="done", response_status=status, response_body=body, generation_id=generation_id)
            .execution_options(synchronize_session=False)
        )

    async def attach_generation(self, project: str, key: str, generation_id: str) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.project == project, IdempotencyRecord.key == key)
            .values(generation_id=generation_id)
            .execution_options(synchronize_session=False)
        )

    async def forget(self, project: str, key: str) -> None:
        """Delete a key whatever its state (an SDK call scope taken over by a new call)."""
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.project == project, IdempotencyRecord.key == key
            )
        )

    async def purge(self, older_than: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < older_than)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
