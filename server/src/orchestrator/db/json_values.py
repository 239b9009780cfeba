"""Reading one metadata value in SQL, tolerant of rows no request can create any more.

Rows stored before input validation (or written by hand) may hold JSON the database cannot
read: ``NaN`` on SQLite (``malformed JSON``), ``\\u0000`` escapes on PostgreSQL (``unsupported
Unicode escape sequence``). One such row must not make every filter or breakdown of its
project fail, so those rows simply have no value here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, case, cast, func
from sqlalchemy.sql.elements import ColumnElement

from orchestrator.db.models import Generation

_NUL_ESCAPE = r"(^|[^\\])(\\\\)*\\u0000"


def metadata_value(key: str, dialect: str) -> ColumnElement[Any]:
    """``metadata[key]`` as text (NULL when absent or unreadable), for ``dialect``."""
    value = Generation.meta[key].as_string()
    if dialect == "sqlite":
        readable = func.json_valid(Generation.meta) == 1
    else:
        # A \u0000 escape: "\u0000" preceded by an even number of backslashes (an escaped
        # backslash followed by the text "u0000" is fine).
        readable = ~cast(Generation.meta, Text).regexp_match(_NUL_ESCAPE)
    return case((readable, value), else_=None)
