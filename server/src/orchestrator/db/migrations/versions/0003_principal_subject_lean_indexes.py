"""principal subject on generations; drop indexes the hot path no longer needs

Jobs of bearer-token principals have no API key, so their concurrency cap needs the token's
subject on the row (``subject``: the key id, or ``jwt:<sub>``). The per-key running count now
lives in memory (``limits/concurrency.py``), so ``ix_generations_key_status`` only slowed every
insert and finish; lease recovery reads the few running jobs through ``ix_generations_claim``
(status first), so ``ix_generations_lease`` goes too. History, usage, budgets and batches keep
theirs.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=128), nullable=True))
        batch_op.drop_index("ix_generations_key_status")
        batch_op.drop_index("ix_generations_lease")
    op.execute("UPDATE generations SET subject = api_key_id WHERE subject IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.create_index("ix_generations_lease", ["status", "lease_expires_at"], unique=False)
        batch_op.create_index("ix_generations_key_status", ["api_key_id", "status"], unique=False)
        batch_op.drop_column("subject")
