"""``orchestrator keys create|list|revoke``: the same rules as the keys API."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from orchestrator.cli.environment import announce_database, load_settings, require_existing_database, run_db
from orchestrator.cli.errors import UserError, allowed_range, in_our_words
from orchestrator.cli.output import budget, table


def _with_keys(action: Callable[[Any], Any], *, may_create: bool) -> Any:
    """Run ``action(KeyService)``; only a command that writes (``may_create``) may create the
    database."""
    from orchestrator.auth.service import KeyService
    from orchestrator.db.engine import Database
    from orchestrator.db.migrate import upgrade_to_head

    settings = load_settings()
    if not may_create:
        require_existing_database(settings)
    announce_database(settings)

    async def work() -> Any:
        await upgrade_to_head(settings.db_url)
        db = Database(settings.db_url)
        try:
            return await action(KeyService(db))
        finally:
            await db.dispose()

    return run_db(settings, work)


# The API's key object (one presenter: ``api.keys.key_out``) less the fields this JSON never had.
_JSON_FIELDS = {
    "id",
    "name",
    "project",
    "mode",
    "prefix",
    "scopes",
    "rate_limit_per_minute",
    "max_concurrent",
    "monthly_budget",
    "created_at",
    "revoked_at",
    "cache",
}


def _key_json(key: Any, secret: str | None = None) -> dict[str, Any]:
    from orchestrator.api.keys import key_out

    fields = key_out(key).model_dump(include=_JSON_FIELDS)
    out = {name: v.isoformat() if isinstance(v, datetime) else v for name, v in fields.items()}
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
    "cache": "--cache",
}


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
        "cache": args.cache,
    }
    try:
        body = KeyCreate.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            rule = in_our_words(error, allowed_range(KeyCreate, field))
            problems.append(f"{_KEY_OPTIONS.get(field, field)} {error.get('input')!r}: {rule}")
        raise UserError("; ".join(problems)) from None
    if not 1 <= len(args.project) <= 64:
        raise UserError(f"--project {args.project!r}: must be 1 to 64 characters")
    return body


def cmd_keys_create(args: argparse.Namespace) -> int:
    body = _validated_key(args)

    async def action(keys: Any) -> Any:
        from orchestrator.api.key_requests import create_from_request, requested_limits

        return await create_from_request(keys, body, project=args.project, limits=requested_limits(body))

    new = _with_keys(action, may_create=True)
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

    rows = _with_keys(action, may_create=False)
    if args.json:
        print(json.dumps([_key_json(k) for k in rows]))
        return 0
    print(
        table(
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
                    budget(key.monthly_budget_micros),
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
