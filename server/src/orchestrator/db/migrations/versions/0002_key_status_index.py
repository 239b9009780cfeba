"""index generations by key and status

The per-key concurrency check counts a key's queued and running jobs on every submission; without
this index that count scans all of the key's history.

Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.create_index("ix_generations_key_status", ["api_key_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.drop_index("ix_generations_key_status")
