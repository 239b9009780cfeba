"""The ``orchestrator`` command: serve, migrate, keys, models. Every command reads the same settings."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from orchestrator.settings import Settings


def _settings() -> Settings:
    return Settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.app import create_app
    from orchestrator.db.migrate import upgrade_to_head_sync

    settings = _settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    upgrade_to_head_sync(settings.db_url)
    settings.signing_key()  # created once here, before any worker process reads it
    _print_start_banner(settings)
    # PostgreSQL scales with processes (one per core by default); SQLite has one writer anyway.
    workers = args.workers or (1 if settings.is_sqlite else os.cpu_count() or 1)
    if workers > 1:
        # Each process builds its own app from the environment; they share the database queue.
        os.environ["ORCHESTRATOR_AUTO_MIGRATE"] = "false"
        target: Any = "orchestrator.app:create_app"
    else:
        target = create_app(settings)
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        access_log=args.access_log,
        timeout_graceful_shutdown=15,
    )
    return 0


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
    print(f"Freepik AI Orchestrator on {where} (data in {settings.data_dir.resolve()})", file=sys.stderr)
    if asyncio.run(count()) == 0:
        print(
            "No API keys yet. Create a test-mode key (works with every model, no provider account):\n"
            "  .venv/bin/orchestrator keys create --name me --mode test --scopes generate read admin\n"
            f"then: curl {where}/api/v1/models -H 'Authorization: Bearer <key>'",
            file=sys.stderr,
        )


def cmd_migrate(_args: argparse.Namespace) -> int:
    from orchestrator.db.migrate import upgrade_to_head_sync

    settings = _settings()
    upgrade_to_head_sync(settings.db_url)
    print(f"database at head: {_redact(settings.db_url)}")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def _with_keys(action: Any) -> Any:
    from orchestrator.auth.service import KeyService
    from orchestrator.db.engine import Database
    from orchestrator.db.migrate import upgrade_to_head

    settings = _settings()
    await upgrade_to_head(settings.db_url)
    db = Database(settings.db_url)
    try:
        return await action(KeyService(db))
    finally:
        await db.dispose()


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


def cmd_keys_create(args: argparse.Namespace) -> int:
    async def action(keys: Any) -> Any:
        return await keys.create(
            project=args.project,
            name=args.name,
            mode=args.mode,
            scopes=args.scopes,
            rate_limit_per_minute=args.rate_limit,
            max_concurrent=args.max_concurrent,
            monthly_budget=None if args.monthly_budget is None else Decimal(args.monthly_budget),
        )

    new = asyncio.run(_with_keys(action))
    if args.json:
        print(json.dumps(_key_json(new.record, new.secret)))
    else:
        print(
            f"Created {new.record.mode} key {new.record.id} ({new.record.name}) in project "
            f"{new.record.project}.\nSecret (shown once, store it now):\n\n  {new.secret}\n"
        )
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    async def action(keys: Any) -> Any:
        return await keys.list(project=args.project)

    rows = asyncio.run(_with_keys(action))
    if args.json:
        print(json.dumps([_key_json(k) for k in rows]))
        return 0
    for key in rows:
        state = "revoked" if key.revoked_at else "active"
        print(
            f"{key.id}  {key.prefix}…  {key.mode:4}  {state:7}  {key.project:12}  {','.join(key.scopes):20}  "
            f"{key.name}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from orchestrator.errors import NotFound

    async def action(keys: Any) -> Any:
        return await keys.revoke(args.id, project=None)

    try:
        key = asyncio.run(_with_keys(action))
    except NotFound as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"revoked {key.id}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from orchestrator.catalog.catalog import load_catalog, price_per_image

    settings = _settings()
    catalog = load_catalog(settings.catalog_path)
    rows = []
    for spec in catalog.models.values():
        price = price_per_image(spec.pricing, spec.size, spec.quality)
        rows.append(
            {
                "name": spec.name,
                "providers": spec.providers,
                "max_resolution": spec.max_resolution,
                "pricing_per_image": None if price is None else float(price),
                "description": spec.description,
            }
        )
        if not args.json:
            shown = "unknown" if price is None else f"${price:.3f}"
            print(f"{spec.name:20} {shown:>9}  {spec.max_resolution:>10}  {','.join(spec.providers)}")
    if args.json:
        print(json.dumps(rows))
    return 0


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as generated from the app (committed as ``openapi.json``)."""
    from orchestrator.app import create_app

    return create_app(Settings(auto_migrate=False)).openapi()


def cmd_openapi(args: argparse.Namespace) -> int:
    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description="Freepik AI Orchestrator")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server (and its job workers)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the job queue (default: 1 on SQLite, one per core on PostgreSQL)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--name", required=True)
    create.add_argument("--mode", choices=("test", "live"), default="test")
    create.add_argument("--project", default="default")
    create.add_argument(
        "--scopes", nargs="+", choices=("generate", "read", "admin"), default=["generate", "read"]
    )
    create.add_argument("--rate-limit", type=int, metavar="PER_MINUTE")
    create.add_argument("--max-concurrent", type=int, metavar="N")
    create.add_argument("--monthly-budget", metavar="USD")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=cmd_keys_create)
    listing = keys.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--project")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    revoke.set_defaults(func=cmd_keys_revoke)

    models = sub.add_parser("models", help="list the model catalog")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)
    openapi = sub.add_parser("openapi", help="print the OpenAPI document")
    openapi.add_argument("--output", "-o", help="write to this file instead of stdout")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
