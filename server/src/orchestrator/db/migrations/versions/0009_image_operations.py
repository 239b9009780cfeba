"""image operations: what a job does, its parameters, and the images it started from

``generations.operation`` (generate, edit, variation, upscale, remove_background, image_to_image)
and ``operation_params`` (scale, strength, output options); ``generation_sources`` holds each
job's input images (uploaded, fetched, or another generation's image), so a result's chain of
parents and children can be shown and searched.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.migrations.ddl import add_columns, drop_columns, owned_by

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    add_columns(
        "generations",
        sa.Column("operation", sa.String(32), nullable=False, server_default="generate"),
        sa.Column("operation_params", sa.JSON(), nullable=True),
    )
    op.create_table(
        "generation_sources",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        owned_by("generation_id", "generations.id"),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("source_generation_id", sa.String(32), nullable=True),
        sa.Column("source_index", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.UniqueConstraint("generation_id", "idx"),
    )
    op.create_index("ix_generation_sources_source", "generation_sources", ["source_generation_id"])


def downgrade() -> None:
    op.drop_index("ix_generation_sources_source", table_name="generation_sources")
    op.drop_table("generation_sources")
    drop_columns("generations", "operation_params", "operation")
