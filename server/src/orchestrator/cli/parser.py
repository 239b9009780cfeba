"""The command line: every command, option and type check, in one parser."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any, NoReturn

from orchestrator import __version__
from orchestrator.cli.errors import USER_ERROR

Command = Callable[[argparse.Namespace], int]


def _lazy(module: str, name: str) -> Command:
    """``orchestrator.cli.<module>.<name>``, imported only when that command runs: parsing (and
    ``--help``) imports no command module, and each command only what it needs."""

    def run(args: argparse.Namespace) -> int:
        command: Command = getattr(importlib.import_module(f"orchestrator.cli.{module}"), name)
        return command(args)

    run.__name__ = run.__qualname__ = name
    return run


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _port(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port: use 1 to 65535")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default ('%(default)s'), except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line too (the usage block is what --help is for)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="orchestrator",
        description="Freepik AI Orchestrator: serve the API, manage keys, inspect the model catalog. "
        "Settings come from ORCHESTRATOR_* environment variables (or a .env file); see "
        "docs/configuration.md.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, text: str) -> argparse.ArgumentParser:
        created: argparse.ArgumentParser = parent.add_parser(
            name, help=text, description=text, formatter_class=_Formatter
        )
        created.set_defaults(parser=created)  # the innermost command's, for usage errors
        return created

    serve = command(sub, "serve", "run the API server (and its job workers)")
    serve.add_argument("--host", help="interface to listen on (default: ORCHESTRATOR_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="TCP port (default: ORCHESTRATOR_PORT, 8000)")
    serve.add_argument(
        "--no-access-log",
        action="store_true",
        help="do not log one line per request (same as ORCHESTRATOR_ACCESS_LOG=false)",
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="server processes sharing the port and the job queue "
        "(default: one per core on PostgreSQL with Redis, otherwise 1; more than 1 without Redis "
        "needs ORCHESTRATOR_PER_PROCESS_LIMITS=true)",
    )
    serve.set_defaults(func=_lazy("serve", "cmd_serve"))

    migrate = command(sub, "migrate", "bring the database schema up to date")
    migrate.set_defaults(func=_lazy("serve", "cmd_migrate"))

    keys = command(sub, "keys", "manage API keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    create = command(keys, "create", "create a key and print its secret once")
    create.add_argument("--name", required=True, help="a label for people (1-128 characters)")
    create.add_argument(
        "--mode", choices=("test", "live"), default="test", help="test keys render offline, for free"
    )
    create.add_argument("--project", default="default", help="the tenant the key belongs to")
    create.add_argument(
        "--scopes",
        nargs="+",
        choices=("generate", "read", "admin"),
        default=["generate", "read"],
        help="what the key may do",
    )
    create.add_argument(
        "--rate-limit",
        type=_whole,
        metavar="PER_MINUTE",
        help="requests per minute (1-1000000; default: ORCHESTRATOR_DEFAULT_RATE_LIMIT_PER_MINUTE)",
    )
    create.add_argument(
        "--max-concurrent",
        type=_whole,
        metavar="N",
        help="jobs running at once (1-10000; default: ORCHESTRATOR_DEFAULT_MAX_CONCURRENT)",
    )
    create.add_argument(
        "--monthly-budget", type=_number, metavar="USD", help="spending cap per month (default: none)"
    )
    create.add_argument(
        "--cache",
        action="store_true",
        default=None,
        help="seeded requests use the result cache unless they send cache: false (default: off)",
    )
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=_lazy("keys", "cmd_keys_create"))
    listing = command(keys, "list", "list keys (never their secrets)")
    listing.add_argument("--project", help="only this project's keys (default: all)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=_lazy("keys", "cmd_keys_list"))
    revoke = command(keys, "revoke", "revoke a key by id")
    revoke.add_argument("id", help="the key's id (key_…), as `keys list` shows it")
    revoke.set_defaults(func=_lazy("keys", "cmd_keys_revoke"))

    models = command(sub, "models", "list the model catalog and what live mode needs")
    models.add_argument("--json", action="store_true", help="print a JSON array")
    models.set_defaults(func=_lazy("models", "cmd_models"))
    openapi = command(sub, "openapi", "print the OpenAPI document")
    openapi.add_argument("--output", "-o", help="write to this file instead of stdout")
    openapi.add_argument(
        "--markdown", action="store_true", help="print the human reference (docs/api.md) instead"
    )
    openapi.set_defaults(func=_lazy("openapi", "cmd_openapi"))
    return parser
