"""webhook endpoints and their delivery outbox

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.migrations.ddl import created_at, livemode, owned_by, project, public_id

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        public_id(),
        project(),
        livemode(),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disabled_reason", sa.String(256), nullable=True),
        created_at(),
    )
    op.create_index("ix_webhook_endpoints_project", "webhook_endpoints", ["project", "livemode", "status"])
    op.create_table(
        "webhook_deliveries",
        public_id(),
        owned_by("endpoint_id", "webhook_endpoints.id"),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(256), nullable=True),
        created_at(),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
