"""What a CLI start costs: each command imports only what it needs, and Alembic runs only when the
database is not at head (one query on ``alembic_version`` decides)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from support import cli_env

from orchestrator.db import migrate
from orchestrator.db.migrate import alembic_config, script_head, upgrade_to_head

# Libraries a command that does not serve or migrate must not load (each costs 100-500 ms of CPU).
HEAVY = ("alembic", "fastapi", "starlette", "uvicorn", "jwt", "PIL", "httpx")


def loaded_after(args: list[str], env: dict[str, str]) -> list[str]:
    """Run ``orchestrator <args>`` in a fresh interpreter; the heavy top-level packages it loaded."""
    code = (
        "import json, sys\n"
        "from orchestrator.cli import main\n"
        "try:\n"
        f"    code = main({args!r})\n"
        "except SystemExit as exit:\n"  # --help exits
        "    code = exit.code\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "settings = 'orchestrator.settings' in sys.modules\n"
        "print(json.dumps({'code': code, 'heavy': heavy, 'settings': settings}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    if args == ["--help"]:
        assert not result["settings"], "--help loaded the settings"
    return list(result["heavy"])


def test_help_loads_no_command(tmp_path: Path, database_url: str) -> None:
    assert loaded_after(["--help"], cli_env(tmp_path / "data", database_url)) == []


@pytest.mark.parametrize(
    "args", [["keys", "list"], ["keys", "create", "--name", "cheap"], ["keys", "list", "--project", "p"]]
)
def test_key_commands_on_a_migrated_database_load_neither_alembic_nor_the_app(
    tmp_path: Path, database_url: str, args: list[str]
) -> None:
    assert loaded_after(args, cli_env(tmp_path / "data", database_url)) == []


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    alembic_head = ScriptDirectory.from_config(
        alembic_config("sqlite+aiosqlite:///unused")
    ).get_current_head()
    assert script_head() == alembic_head


def write_script(folder: Path, revision: str, down: str) -> None:
    (folder / f"{revision}_x.py").write_text(f'"""x"""\nrevision = "{revision}"\ndown_revision = {down}\n')


def scripts(folder: Path, *revisions: tuple[str, str]) -> Path:
    """A versions folder of ``(revision, down_revision source)`` scripts (read once per folder)."""
    folder.mkdir()
    for revision, down in revisions:
        source = f'"""x"""\nrevision = "{revision}"\ndown_revision = {down}\n'
        (folder / f"{revision}_x.py").write_text(source)
    return folder


def test_scripts_that_are_not_one_chain_leave_the_decision_to_alembic(tmp_path: Path) -> None:
    assert script_head(scripts(tmp_path / "chain", ("a", "None"), ("b", '"a"'))) == "b"
    two_heads = scripts(tmp_path / "two", ("a", "None"), ("b", '"a"'), ("c", '"a"'))
    assert script_head(two_heads) is None
    merge = scripts(tmp_path / "merge", ("a", "None"), ("m", '("a", "b")'))  # a tuple of parents
    assert script_head(merge) is None
    assert script_head(scripts(tmp_path / "empty")) is None


async def test_alembic_runs_only_when_the_database_is_not_at_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db" / "orchestrator.db"
    url = f"sqlite+aiosqlite:///{path}"
    runs: list[str] = []
    real = migrate._upgrade

    def counted(connection: Any, config: Any) -> None:
        runs.append("upgrade")
        real(connection, config)

    monkeypatch.setattr(migrate, "_upgrade", counted)
    await upgrade_to_head(url)  # a new database: Alembic creates the schema
    assert runs == ["upgrade"]
    await upgrade_to_head(url)  # at head: one query, no Alembic
    assert runs == ["upgrade"]

    with sqlite3.connect(path) as connection:  # one revision behind, as after an upgrade of the code
        connection.execute("UPDATE alembic_version SET version_num = '0008'")
    monkeypatch.setattr(migrate, "_upgrade", lambda connection, config: runs.append("behind"))
    await upgrade_to_head(url)
    assert runs == ["upgrade", "behind"]


async def test_a_shared_database_at_head_is_left_to_the_query(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Either backend (PostgreSQL too): a database at head never reaches Alembic."""

    def refuse(connection: Any, config: Any) -> None:
        raise AssertionError("Alembic ran on a database at head")

    monkeypatch.setattr(migrate, "_upgrade", refuse)
    await upgrade_to_head(database_url)
