"""Settings and the database every command reads, each problem turned into a one-line UserError."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.cli.errors import UserError, allowed_range, in_our_words
from orchestrator.settings import Settings


def _settings_error(exc: ValidationError) -> UserError:
    problems = []
    for error in exc.errors():
        name = "ORCHESTRATOR_" + "_".join(str(part) for part in error["loc"] if part != "providers").upper()
        secret = any(word in name for word in ("SECRET", "KEY", "TOKEN", "PASSWORD", "URL"))
        shown = "" if secret else f"={error.get('input')!r}"  # never echo a credential
        allowed = allowed_range(Settings, str(error["loc"][0])) if len(error["loc"]) == 1 else None
        rule = in_our_words(error, allowed)
        problems.append(f"{name}{shown}: {rule}" if error["loc"] else rule)
    return UserError("bad setting " + "; ".join(problems))


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise _settings_error(exc) from None


def redact(url: str) -> str:
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
            f"bad setting ORCHESTRATOR_DATABASE_URL ({redact(url)}): use a URL starting with "
            + " or ".join(f"{d}://" for d in SUPPORTED_DRIVERS)
        )


def announce_database(settings: Settings) -> None:
    """Every command says which database it uses: a different data dir is a different database."""
    _check_database_url(settings.db_url)
    note = ""
    if settings.is_sqlite:
        path = Path(settings.db_url.split("///", 1)[1])
        if not path.exists():
            note = " (new: ORCHESTRATOR_DATA_DIR or ORCHESTRATOR_DATABASE_URL chooses another)"
    print(f"database: {redact(settings.db_url)} (id {settings.database_id()}){note}", file=sys.stderr)


def require_existing_database(settings: Settings) -> None:
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
        f"cannot use the database at {redact(settings.db_url)} "
        f"(chosen by {settings.database_chosen_by}): {reason}"
    )


def run_db(settings: Settings, work: Callable[[], Any]) -> Any:
    """Run ``asyncio.run(work())``, turning an unreachable or unusable database into a UserError."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        return asyncio.run(work())
    except (OSError, OperationalError, DBAPIError) as exc:
        raise _database_error(settings, exc) from None
