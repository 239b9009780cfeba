"""webhook deliveries: retrying and dead states, time of the last attempt

A delivery whose attempt failed is ``retrying`` until it is delivered or given up; given up is
``dead`` (the dead letter), which is what ``failed`` meant before.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.migrations.ddl import add_columns, drop_columns

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    add_columns("webhook_deliveries", sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE webhook_deliveries SET status = 'dead' WHERE status = 'failed'")
    op.execute("UPDATE webhook_deliveries SET status = 'retrying' WHERE status = 'pending' AND attempts > 0")


def downgrade() -> None:
    op.execute("UPDATE webhook_deliveries SET status = 'pending' WHERE status = 'retrying'")
    op.execute("UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'dead'")
    drop_columns("webhook_deliveries", "last_attempt_at")
