"""budget alerts: one row per budget, month and threshold crossed (50, 80, 100 %)

Written in the transaction that settles the charge crossing it, with its webhook outbox rows;
the unique constraint is what makes each alert happen once, across restarts and processes.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.migrations.ddl import created_at, project, public_id

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "budget_alerts",
        public_id(),
        project(),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("scope_id", sa.String(32), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("spent_micros", sa.BigInteger(), nullable=False),
        sa.Column("budget_micros", sa.BigInteger(), nullable=False),
        sa.Column("generation_id", sa.String(32), nullable=False),
        created_at(),
        sa.UniqueConstraint("scope", "scope_id", "period_start", "threshold"),
    )


def downgrade() -> None:
    op.drop_table("budget_alerts")
