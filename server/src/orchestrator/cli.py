"""The ``orchestrator`` command: serve, migrate, keys, models. Every command reads the same settings.

User errors (a bad option or setting, an unreachable database, an unknown key) print one line to
stderr and exit with status 2; every command names the database it uses on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from orchestrator import __version__
from orchestrator.settings import Settings

USER_ERROR = 2


class UserError(Exception):
    """A mistake the user can fix; printed as one line, never with a traceback."""


def _in_our_words(error: Any, allowed: str | None = None) -> str:
    """A validation error as a rule the user can follow (``allowed`` names the whole range)."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    bounds = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
    if allowed and kind in (*bounds, "string_too_short", "string_too_long"):
        return f"must be {allowed}"
    words = {
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "bool_parsing": "must be true or false",
        "missing": "is required",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "string_too_short": f"must be at least {ctx.get('min_length')} character(s)",
        "string_too_long": f"must be at most {ctx.get('max_length')} character(s)",
        "literal_error": f"must be one of {ctx.get('expected')}",
    }
    if kind in words:
        return words[kind]
    message = str(error.get("msg", "is not valid"))
    return message.replace("Input should be", "must be").replace("Value error, ", "")


def _settings_error(exc: ValidationError) -> UserError:
    problems = []
    for error in exc.errors():
        name = "ORCHESTRATOR_" + "_".join(str(part) for part in error["loc"] if part != "providers").upper()
        secret = any(word in name for word in ("SECRET", "KEY", "TOKEN", "PASSWORD", "URL"))
        shown = "" if secret else f"={error.get('input')!r}"  # never echo a credential
        allowed = _allowed_range(Settings, str(error["loc"][0])) if len(error["loc"]) == 1 else None
        rule = _in_our_words(error, allowed)
        problems.append(f"{name}{shown}: {rule}" if error["loc"] else rule)
    return UserError("bad setting " + "; ".join(problems))


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise _settings_error(exc) from None


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return url.split("://", 1)[0] + "://…"


SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        driver = make_url(url).drivername
    except ArgumentError:
        driver = None
    if driver not in SUPPORTED_DRIVERS:
        raise UserError(
            f"bad setting ORCHESTRATOR_DATABASE_URL ({_redact(url)}): use a URL starting with "
            + " or ".join(f"{d}://" for d in SUPPORTED_DRIVERS)
        )


def _announce_database(settings: Settings) -> None:
    """Every command says which database it uses: a different data dir is a different database."""
    _check_database_url(settings.db_url)
    note = ""
    if settings.is_sqlite:
        path = Path(settings.db_url.split("///", 1)[1])
        if not path.exists():
            note = " (new: ORCHESTRATOR_DATA_DIR or ORCHESTRATOR_DATABASE_URL chooses another)"
    print(f"database: {_redact(settings.db_url)} (id {settings.database_id()}){note}", file=sys.stderr)


def _require_existing_database(settings: Settings) -> None:
    """Read-only commands never create a database (or its folder): a typo in the data dir must
    not look like an empty database."""
    _check_database_url(settings.db_url)
    if not settings.is_sqlite:
        return  # a missing PostgreSQL database is refused by the server itself
    from sqlalchemy.engine import make_url

    path = make_url(settings.db_url).database
    if path and path != ":memory:" and not Path(path).exists():
        raise UserError(
            f"no database at {path} (chosen by {settings.database_chosen_by}): give this command "
            "the server's ORCHESTRATOR_DATA_DIR or ORCHESTRATOR_DATABASE_URL, or create one with "
            "`orchestrator migrate`"
        )


def _database_error(settings: Settings, exc: BaseException) -> UserError:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    return UserError(
        f"cannot use the database at {_redact(settings.db_url)} "
        f"(chosen by {settings.database_chosen_by}): {reason}"
    )


def _run_db(settings: Settings, work: Callable[[], Any]) -> Any:
    """Run ``asyncio.run(work())``, turning an unreachable or unusable database into a UserError."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        return asyncio.run(work())
    except (OSError, OperationalError, DBAPIError) as exc:
        raise _database_error(settings, exc) from None


def _configure_logging(settings: Settings) -> None:
    from orchestrator.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    if not settings.access_log:
        import logging

        logging.getLogger("orchestrator.access").setLevel(logging.WARNING)


def create_app_from_env() -> Any:
    """The app factory of ``serve --workers N``: each process configures its logs and builds its app."""
    from orchestrator.app import create_app

    settings = Settings()
    _configure_logging(settings)
    return create_app(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.app import create_app
    from orchestrator.db.migrate import upgrade_to_head
    from orchestrator.http_guard import HttpLimits, guarded_protocol
    from orchestrator.limits.deployment import default_workers, workers_refusal

    settings = _settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if args.no_access_log:
        settings.access_log = False
        os.environ["ORCHESTRATOR_ACCESS_LOG"] = "false"  # for worker processes
    # PostgreSQL with Redis scales with processes (one per core by default); SQLite has one writer
    # anyway, and without Redis several processes would each count the limits on their own.
    workers = args.workers or default_workers(settings)
    refusal = workers_refusal(settings, workers)
    if refusal is not None:
        raise UserError(refusal)
    # Processes sharing the limits: these, or more when the operator counts other hosts too.
    settings.workers = max(settings.workers, workers) if "workers" in settings.model_fields_set else workers
    os.environ["ORCHESTRATOR_WORKERS"] = str(settings.workers)  # for worker processes
    if workers > 1 and settings.redis_url is None:
        print(
            f"warning: {workers} processes without Redis: each rate limit is split {workers} ways and "
            "running jobs are capped by the database only (/readyz reports it)",
            file=sys.stderr,
        )
    _check_port_free(settings.host, settings.port, "--port" if args.port else "ORCHESTRATOR_PORT")
    _announce_database(settings)
    _run_db(settings, lambda: upgrade_to_head(settings.db_url))
    settings.signing_key()  # created once here, before any worker process reads it
    _print_start_banner(settings)
    _configure_logging(settings)
    if workers > 1:
        # Each process builds its own app from the environment; they share the database queue.
        os.environ["ORCHESTRATOR_AUTO_MIGRATE"] = "false"
        target: Any = "orchestrator.cli:create_app_from_env"
    else:
        target = create_app(settings)
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,  # configure_logging already routes uvicorn's loggers
        log_level=settings.log_level,
        loop="uvloop",
        access_log=False,  # replaced by the orchestrator.access line
        timeout_graceful_shutdown=15,
        # Header size, header and body timeouts, connection cap: see orchestrator.http_guard.
        http=guarded_protocol(HttpLimits.from_settings(settings)),
        timeout_keep_alive=settings.http_keep_alive_seconds,
    )
    return 0


def _check_port_free(host: str, port: int, setting: str) -> None:
    """Say plainly when the port is taken, before uvicorn buries it in its logs (and exits 3)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host} (ORCHESTRATOR_HOST / --host): {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1 if port < 65535 else 8000
                raise UserError(
                    f"port {port} on {host} is already in use (set by {setting}): stop the other "
                    f"server or pick another port, e.g. `orchestrator serve --port {other}`"
                ) from None
            raise UserError(
                f"cannot listen on {host}:{port} (ORCHESTRATOR_HOST or --host, ORCHESTRATOR_PORT or "
                f"--port): {exc.strerror}"
            ) from None


def _print_start_banner(settings: Settings) -> None:
    from orchestrator.db.engine import Database
    from orchestrator.db.repositories.keys import KeyRepository

    async def count() -> int:
        db = Database(settings.db_url)
        try:
            async with db.read() as session:
                return await KeyRepository(session).count()
        finally:
            await db.dispose()

    where = f"http://{settings.host}:{settings.port}"
    print(
        f"Freepik AI Orchestrator {__version__} on {where} (database: {settings.database_label()}, "
        f"chosen by {settings.database_chosen_by}; data in {settings.data_dir.resolve()}); "
        f"API reference: {where}/docs",
        file=sys.stderr,
    )
    if _run_db(settings, count) == 0:
        # The key must land in this server's database: repeat the setting that chose it.
        same = ""
        if settings.database_chosen_by.startswith("ORCHESTRATOR_DATA_DIR="):
            same = f"ORCHESTRATOR_DATA_DIR={shlex.quote(str(settings.data_dir))} "
        elif settings.database_chosen_by == "ORCHESTRATOR_DATABASE_URL":
            same = "ORCHESTRATOR_DATABASE_URL=<the server's> "
        print(
            "No API keys yet. Create a test-mode key (works with every model, no provider account):\n"
            f"  {same}.venv/bin/orchestrator keys create --name me --mode test --scopes generate read admin\n"
            f"then: curl {where}/api/v1/models -H 'Authorization: Bearer <key>'",
            file=sys.stderr,
        )


def cmd_migrate(_args: argparse.Namespace) -> int:
    from orchestrator.db.migrate import upgrade_to_head

    settings = _settings()
    _announce_database(settings)
    _run_db(settings, lambda: upgrade_to_head(settings.db_url))
    print(f"database at head: {_redact(settings.db_url)}")
    return 0


def _with_keys(action: Callable[[Any], Any], *, may_create: bool) -> Any:
    """Run ``action(KeyService)``; only a command that writes (``may_create``) may create the
    database."""
    from orchestrator.auth.service import KeyService
    from orchestrator.db.engine import Database
    from orchestrator.db.migrate import upgrade_to_head

    settings = _settings()
    if not may_create:
        _require_existing_database(settings)
    _announce_database(settings)

    async def work() -> Any:
        await upgrade_to_head(settings.db_url)
        db = Database(settings.db_url)
        try:
            return await action(KeyService(db))
        finally:
            await db.dispose()

    return _run_db(settings, work)


def _key_json(key: Any, secret: str | None = None) -> dict[str, Any]:
    from orchestrator.accounting.money import from_micros

    out = {
        "id": key.id,
        "name": key.name,
        "project": key.project,
        "mode": key.mode,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "max_concurrent": key.max_concurrent,
        "monthly_budget": from_micros(key.monthly_budget_micros),
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
    if secret is not None:
        out["key"] = secret
    return out


# API field -> the option that sets it, so the API's validation messages name the CLI's options.
_KEY_OPTIONS = {
    "name": "--name",
    "mode": "--mode",
    "scopes": "--scopes",
    "rate_limit_per_minute": "--rate-limit",
    "max_concurrent": "--max-concurrent",
    "monthly_budget": "--monthly-budget",
}


def _allowed_range(model: Any, field: str) -> str | None:
    """'from 1 to 10000' for a field with both bounds, read from the API's own schema."""
    info = model.model_fields.get(field)
    if info is None:
        return None

    def bound(name: str) -> Any:
        return next((getattr(m, name) for m in info.metadata if getattr(m, name, None) is not None), None)

    shortest, longest = bound("min_length"), bound("max_length")
    if shortest is not None and longest is not None:
        return f"{shortest} to {longest} characters"
    low, high = bound("ge"), bound("le")
    if low is None or high is None:
        return None

    def shown(value: float) -> str:
        return str(int(value)) if float(value).is_integer() else str(value)

    return f"from {shown(low)} to {shown(high)}"


def _validated_key(args: argparse.Namespace) -> Any:
    """The same rules as ``POST /api/v1/keys``: its request schema validates the options."""
    from orchestrator.api.schemas import KeyCreate

    values = {
        "name": args.name,
        "mode": args.mode,
        "scopes": args.scopes,
        "rate_limit_per_minute": args.rate_limit,
        "max_concurrent": args.max_concurrent,
        "monthly_budget": args.monthly_budget,
    }
    try:
        body = KeyCreate.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            rule = _in_our_words(error, _allowed_range(KeyCreate, field))
            problems.append(f"{_KEY_OPTIONS.get(field, field)} {error.get('input')!r}: {rule}")
        raise UserError("; ".join(problems)) from None
    if not 1 <= len(args.project) <= 64:
        raise UserError(f"--project {args.project!r}: must be 1 to 64 characters")
    return body


def cmd_keys_create(args: argparse.Namespace) -> int:
    body = _validated_key(args)

    async def action(keys: Any) -> Any:
        return await keys.create(
            project=args.project,
            name=body.name,
            mode=body.mode,
            scopes=list(body.scopes),
            rate_limit_per_minute=body.rate_limit_per_minute,
            max_concurrent=body.max_concurrent,
            monthly_budget=None if body.monthly_budget is None else Decimal(str(body.monthly_budget)),
        )

    new = _with_keys(action, may_create=True)
    if args.json:
        print(json.dumps(_key_json(new.record, new.secret)))
    else:
        print(
            f"Created {new.record.mode} key {new.record.id} ({new.record.name}) in project "
            f"{new.record.project}.\nSecret (shown once, store it now):\n\n  {new.secret}\n"
        )
    return 0


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines)


def _budget(micros: int | None) -> str:
    from orchestrator.accounting.money import from_micros

    return "none" if micros is None else f"${from_micros(micros)}"


def cmd_keys_list(args: argparse.Namespace) -> int:
    async def action(keys: Any) -> Any:
        return await keys.list(project=args.project)

    rows = _with_keys(action, may_create=False)
    if args.json:
        print(json.dumps([_key_json(k) for k in rows]))
        return 0
    print(
        _table(
            ("ID", "PREFIX", "MODE", "STATE", "PROJECT", "SCOPES", "RATE/MIN", "BUDGET", "NAME"),
            [
                (
                    key.id,
                    f"{key.prefix}…",
                    key.mode,
                    "revoked" if key.revoked_at else "active",
                    key.project,
                    ",".join(key.scopes),
                    key.rate_limit_per_minute or "default",
                    _budget(key.monthly_budget_micros),
                    key.name,
                )
                for key in rows
            ],
        )
    )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from orchestrator.errors import NotFound

    async def action(keys: Any) -> Any:
        try:
            return await keys.revoke(args.id, project=None)
        except NotFound as exc:
            raise UserError(exc.message) from None

    key = _with_keys(action, may_create=False)
    print(f"revoked {key.id}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from orchestrator.catalog.catalog import load_catalog, price_per_image
    from orchestrator.providers.registry import PROVIDERS, missing_credential

    settings = _settings()
    _announce_database(settings)
    try:
        catalog = load_catalog(settings.catalog_path)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the catalog (ORCHESTRATOR_CATALOG_PATH): {exc}") from None

    def configured(provider: str) -> bool:
        entry = PROVIDERS.get(provider)
        if entry is None:
            return False
        setting = entry.credential.removeprefix("ORCHESTRATOR_").lower()
        return getattr(settings.providers, setting, None) is not None

    rows: list[dict[str, Any]] = []
    for spec in catalog.models.values():
        price = price_per_image(spec.pricing, spec.size, spec.quality)
        ready = [p for p in spec.providers if configured(p)]
        missing = [] if ready else sorted({missing_credential(p) for p in spec.providers})
        rows.append(
            {
                "name": spec.name,
                "providers": spec.providers,
                "max_resolution": spec.max_resolution,
                "pricing_per_image": None if price is None else float(price),
                "description": spec.description,
                "live_available": bool(ready),
                "missing_credentials": missing,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        _table(
            ("MODEL", "PRICE", "MAX SIZE", "LIVE", "PROVIDERS", "TO ENABLE LIVE, SET ONE OF"),
            [
                (
                    r["name"],
                    "unknown" if r["pricing_per_image"] is None else f"${r['pricing_per_image']:.3f}",
                    r["max_resolution"],
                    "yes" if r["live_available"] else "no",
                    ",".join(r["providers"]),
                    " ".join(r["missing_credentials"]) or "-",
                )
                for r in rows
            ],
        )
    )
    print("\nTest-mode keys (sk-test-…) can use every model: they render offline.", file=sys.stderr)
    return 0


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as generated from the app (committed as ``openapi.json``)."""
    from orchestrator.app import create_app

    return create_app(Settings(auto_migrate=False)).openapi()


def api_reference_markdown() -> str:
    """``docs/api.md``: the reference page rendered from the app's OpenAPI document."""
    from orchestrator.api_reference import operation_scopes, render_markdown
    from orchestrator.app import create_app

    app = create_app(Settings(auto_migrate=False))
    return render_markdown(app.openapi(), operation_scopes(app))


def cmd_openapi(args: argparse.Namespace) -> int:
    if args.markdown:
        text = api_reference_markdown()
    else:
        text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


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
    serve.set_defaults(func=cmd_serve)

    migrate = command(sub, "migrate", "bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)

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
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=cmd_keys_create)
    listing = command(keys, "list", "list keys (never their secrets)")
    listing.add_argument("--project", help="only this project's keys (default: all)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=cmd_keys_list)
    revoke = command(keys, "revoke", "revoke a key by id")
    revoke.add_argument("id", help="the key's id (key_…), as `keys list` shows it")
    revoke.set_defaults(func=cmd_keys_revoke)

    models = command(sub, "models", "list the model catalog and what live mode needs")
    models.add_argument("--json", action="store_true", help="print a JSON array")
    models.set_defaults(func=cmd_models)
    openapi = command(sub, "openapi", "print the OpenAPI document")
    openapi.add_argument("--output", "-o", help="write to this file instead of stdout")
    openapi.add_argument(
        "--markdown", action="store_true", help="print the human reference (docs/api.md) instead"
    )
    openapi.set_defaults(func=cmd_openapi)
    return parser


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


if __name__ == "__main__":
    raise SystemExit(main())
