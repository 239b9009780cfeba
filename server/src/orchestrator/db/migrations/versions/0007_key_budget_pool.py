"""keys created by a budgeted key draw from its budget (budget_pool_id)

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("budget_pool_id", sa.String(32), nullable=True))
        batch.create_index("ix_api_keys_budget_pool_id", ["budget_pool_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_budget_pool_id")
        batch.drop_column("budget_pool_id")
