"""Tables (a terminal) or JSON (scripts) for history, usage and webhooks."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (models as the server sent them)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(console: Console, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    out = Table(title=title, title_justify="left")
    for index, name in enumerate(columns):
        # The first column holds ids, which a reader copies whole: never wrapped.
        out.add_column(name, no_wrap=index == 0, overflow="fold")
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(out)


def money(value: float | None) -> str:
    return "?" if value is None else f"${value:.4f}"
