"""webhook deliveries: retrying and dead states, time of the last attempt

A delivery whose attempt failed is ``retrying`` until it is delivered or given up; given up is
``dead`` (the dead letter), which is what ``failed`` meant before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE webhook_deliveries SET status = 'dead' WHERE status = 'failed'")
    op.execute("UPDATE webhook_deliveries SET status = 'retrying' WHERE status = 'pending' AND attempts > 0")


def downgrade() -> None:
    op.execute("UPDATE webhook_deliveries SET status = 'pending' WHERE status = 'retrying'")
    op.execute("UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'dead'")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("last_attempt_at")
