"""What the migration scripts spell the same way: the columns most tables share, and adding or
dropping columns in one batch (SQLite rebuilds a table to alter it; PostgreSQL alters in place).

The scripts are history, so what a helper here emits must never change once a script uses it:
add a new helper rather than editing one. Never import the app's models here: they move on with
the code, a migration must not.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def public_id() -> sa.Column[Any]:
    """``id``: the primary key, a generated public id (``prefix_…``, 32 characters at most)."""
    return sa.Column("id", sa.String(32), primary_key=True)


def project() -> sa.Column[Any]:
    """``project``: the project the row belongs to."""
    return sa.Column("project", sa.String(64), nullable=False)


def livemode() -> sa.Column[Any]:
    """``livemode``: live (True) or test (False) data; the modes never see each other's rows."""
    return sa.Column("livemode", sa.Boolean(), nullable=False)


def created_at() -> sa.Column[Any]:
    """``created_at``: when the row was written (timezone-aware)."""
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def owned_by(name: str, parent: str, *, primary_key: bool = False) -> sa.Column[Any]:
    """A required reference to ``parent`` (``table.id``) whose rows go when the parent row goes."""
    return sa.Column(
        name,
        sa.String(32),
        sa.ForeignKey(parent, ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def add_columns(table: str, *columns: sa.Column[Any]) -> None:
    """Add ``columns`` to ``table`` in one batch."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column)


def drop_columns(table: str, *names: str) -> None:
    """Drop the columns ``names`` (in that order) from ``table`` in one batch."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(name)
