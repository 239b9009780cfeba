"""result cache and in-flight deduplication

``generations.cache_key`` (the hash of what decides a result's pixels, set on jobs that opted in
to the cache), ``cached_from`` (the generation a cached or deduplicated job took its result from)
and ``saved_micros`` (what that result cost its source: the cache's savings). A unique partial
index allows one active leader per (project, mode, cache_key): the database, not a lock, decides
which of several identical concurrent requests calls the provider. ``api_keys.cache_default``
opts a key's seeded requests in by default.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.migrations.ddl import add_columns, drop_columns

revision = "0011"
down_revision = "0010"

_LEADER = "status IN ('queued', 'running') AND cached_from IS NULL AND cache_key IS NOT NULL"


def upgrade() -> None:
    add_columns(
        "generations",
        sa.Column("cache_key", sa.String(64), nullable=True),
        sa.Column("cached_from", sa.String(32), nullable=True),
        sa.Column("saved_micros", sa.BigInteger(), nullable=True),
    )
    add_columns("api_keys", sa.Column("cache_default", sa.Boolean(), nullable=True))
    op.create_index("ix_generations_cache", "generations", ["project", "livemode", "cache_key", "status"])
    op.create_index("ix_generations_cached_from", "generations", ["cached_from"])
    op.create_index(
        "ux_generations_cache_leader",
        "generations",
        ["project", "livemode", "cache_key"],
        unique=True,
        sqlite_where=sa.text(_LEADER),
        postgresql_where=sa.text(_LEADER),
    )


def downgrade() -> None:
    op.drop_index("ux_generations_cache_leader", table_name="generations")
    op.drop_index("ix_generations_cached_from", table_name="generations")
    op.drop_index("ix_generations_cache", table_name="generations")
    drop_columns("api_keys", "cache_default")
    drop_columns("generations", "saved_micros", "cached_from", "cache_key")
