"""The ``orchestrator`` command: serve, migrate, keys, models. Every command reads the same settings.

User errors (a bad option or setting, an unreachable database, an unknown key) print one line to
stderr and exit with status 2; every command names the database it uses on stderr.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.cli.errors import USER_ERROR, UserError
from orchestrator.cli.parser import build_parser

if TYPE_CHECKING:
    from orchestrator.cli.openapi import api_reference_markdown, openapi_document
    from orchestrator.cli.serve import create_app_from_env

# Imported on first use: their modules load the settings (and, when called, the whole app), which
# parsing and ``--help`` never need; each command imports only its own (see ``parser._lazy``).
_LAZY = {
    "api_reference_markdown": "orchestrator.cli.openapi",
    "openapi_document": "orchestrator.cli.openapi",
    "create_app_from_env": "orchestrator.cli.serve",
}

__all__ = [
    "USER_ERROR",
    "UserError",
    "api_reference_markdown",
    "build_parser",
    "create_app_from_env",
    "main",
    "openapi_document",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Exits 2 with a one-line message on bad options, pointing to the command's own help.
    args, extra = parser.parse_known_args(argv)
    if extra:
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code: int = args.func(args)
    except UserError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        return 130
    return code
