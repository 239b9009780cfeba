"""the attempt trail of a generation

Which providers were tried before the outcome, and why each failed: a JSON list written with the
job's ending, shown on the generation so an operator can see why a request fell back or failed.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa

from orchestrator.db.migrations.ddl import add_columns, drop_columns

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    add_columns("generations", sa.Column("attempt_trail", sa.JSON(), nullable=True))


def downgrade() -> None:
    drop_columns("generations", "attempt_trail")
