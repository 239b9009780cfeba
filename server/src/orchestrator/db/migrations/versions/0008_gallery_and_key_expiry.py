"""gallery (boards, stars, soft delete, audit) and API key expiry

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.migrations.ddl import (
    add_columns,
    created_at,
    drop_columns,
    livemode,
    owned_by,
    project,
    public_id,
)

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    add_columns("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "boards",
        public_id(),
        project(),
        livemode(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        created_at(),
    )
    op.create_index("ix_boards_project", "boards", ["project", "livemode"])
    # Two requests racing to create the same name (or the default board) cannot both win.
    op.create_index("ux_boards_name", "boards", ["project", "livemode", "name"], unique=True)
    op.create_table(
        "board_items",
        owned_by("board_id", "boards.id", primary_key=True),
        owned_by("generation_id", "generations.id", primary_key=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_board_items_generation", "board_items", ["generation_id"])
    op.create_table(
        "gallery_marks",
        owned_by("generation_id", "generations.id", primary_key=True),
        project(),
        sa.Column("starred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_gallery_marks_purge", "gallery_marks", ["purged_at", "purge_after"])
    op.create_table(
        "audit_events",
        public_id(),
        project(),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        created_at(),
    )
    op.create_index("ix_audit_events_project", "audit_events", ["project", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_project", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_gallery_marks_purge", table_name="gallery_marks")
    op.drop_table("gallery_marks")
    op.drop_index("ix_board_items_generation", table_name="board_items")
    op.drop_table("board_items")
    op.drop_index("ux_boards_name", table_name="boards")
    op.drop_index("ix_boards_project", table_name="boards")
    op.drop_table("boards")
    drop_columns("api_keys", "expires_at")
