"""The `orchestrator` command: the API's validation, one-line errors, help, tables."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import cli_env, run_cli

from orchestrator.cli import build_parser


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if not line.startswith("database: ")]
    assert "Traceback" not in done.stderr
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--monthly-budget", "-3", "--monthly-budget"),
        ("--rate-limit", "0", "--rate-limit"),
        ("--max-concurrent", "0", "--max-concurrent"),
        ("--name", "", "--name"),
        ("--rate-limit", "many", "--rate-limit"),
    ],
)
def test_key_options_get_the_apis_rules(tmp_path, database_url, option, value, named) -> None:
    env = cli_env(tmp_path / "data", database_url)  # at the newest schema already: no `migrate`
    args = ["keys", "create", "--name", "x", option, value]
    line = one_line_error(cli(args, env))
    assert named in line and "Input should" not in line
    assert run_cli(["keys", "list", "--json"], env) == []  # nothing was created


@pytest.mark.timeout(180)  # several `orchestrator` processes start here: slow on a busy machine
def test_user_errors_are_one_line_and_name_the_culprit(tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    bad_level = one_line_error(cli(["models"], {**env, "ORCHESTRATOR_LOG_LEVEL": "loud"}))
    assert "ORCHESTRATOR_LOG_LEVEL" in bad_level
    unreachable = {**env, "ORCHESTRATOR_DATABASE_URL": "postgresql+asyncpg://me:hunter2@127.0.0.1:1/db"}
    line = one_line_error(cli(["keys", "list"], unreachable))
    assert "127.0.0.1:1/db" in line and "hunter2" not in cli(["keys", "list"], unreachable).stderr
    run_cli(["migrate"], env)
    assert "no API key 'key_nope'" in one_line_error(cli(["keys", "revoke", "key_nope"], env))
    wrong_driver = {**env, "ORCHESTRATOR_DATABASE_URL": "postgresql://me:hunter2@db/x"}
    line = one_line_error(cli(["migrate"], wrong_driver))
    assert "ORCHESTRATOR_DATABASE_URL" in line and "postgresql+asyncpg://" in line and "hunter2" not in line
    assert "ORCHESTRATOR_PORT='x'" in one_line_error(cli(["models"], {**env, "ORCHESTRATOR_PORT": "x"}))
    assert one_line_error(cli(["serve", "--port", "0"], env)).startswith("usage:") is False


@pytest.mark.timeout(180)  # several `orchestrator` processes start here: slow on a busy machine
def test_every_command_names_its_database_and_lists_tables(tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url)
    created = cli(["keys", "create", "--name", "table", "--json"], env)
    assert created.returncode == 0 and created.stderr.startswith("database: ")
    listed = cli(["keys", "list"], env)
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "PREFIX", "MODE", "STATE"] and "table" in row
    assert "sk-test-" in row and created.stdout.split('"key": "')[1][:30] not in listed.stdout
    models = cli(["models"], {**env, "ORCHESTRATOR_OPENAI_API_KEY": "sk-configured"})
    lines = models.stdout.splitlines()
    assert lines[0].split()[:4] == ["MODEL", "PRICE", "MAX", "SIZE"]
    dalle = next(line for line in lines if line.startswith("dall-e-3 "))
    flux = next(line for line in lines if line.startswith("flux"))
    assert " yes " in dalle and " no " in flux and "ORCHESTRATOR_" in flux
    assert models.stderr.startswith("database: ")


def test_version_and_help_text_on_every_option(capsys) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--version"])
    assert exited.value.code == 0 and "0." in capsys.readouterr().out

    def walk(p):
        yield p
        for action in p._actions:
            for child in getattr(action, "choices", None) or {}:
                if hasattr(action, "_name_parser_map"):
                    yield from walk(action._name_parser_map[child])

    for p in walk(parser):
        for action in p._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                assert action.help, f"{p.prog} {action.option_strings} has no help"
                if action.default not in (None, False):
                    assert "%(default)s" in p.formatter_class(p.prog)._get_help_string(action)


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--rate-limit", "0", "--rate-limit 0: must be from 1 to 1000000"),
        ("--max-concurrent", "100000", "--max-concurrent 100000: must be from 1 to 10000"),
        ("--name", "", "--name '': must be 1 to 128 characters"),
        ("--monthly-budget", "-3", "--monthly-budget -3.0: must be from 0 to 1000000"),
    ],
)
def test_option_errors_name_the_option_and_the_allowed_range_in_our_words(
    tmp_path, database_url, option, value, rule
) -> None:
    env = cli_env(tmp_path / "data", database_url)
    line = one_line_error(cli(["keys", "create", "--name", "x", option, value], env))
    assert line == f"orchestrator: error: {rule}"


def test_a_bad_setting_names_the_allowed_range(tmp_path, database_url) -> None:
    env = cli_env(tmp_path / "data", database_url, ORCHESTRATOR_PORT="70000")
    line = one_line_error(cli(["models"], env))
    assert line == "orchestrator: error: bad setting ORCHESTRATOR_PORT='70000': must be from 1 to 65535"


@pytest.mark.parametrize(
    "command", [["models", "--bogus"], ["keys", "list", "--bogus"], ["serve", "--port", "x"]]
)
def test_a_usage_error_points_to_that_commands_help(tmp_path, database_url, command) -> None:
    line = one_line_error(cli(command, cli_env(tmp_path / "data", database_url)))
    prog = "orchestrator " + " ".join(word for word in command[:2] if not word.startswith("-"))
    assert line.startswith(f"{prog}: error: ") and line.endswith(f"(see {prog} --help)"), line


READ_ONLY = [["keys", "list"], ["keys", "list", "--json"], ["keys", "revoke", "key_01ABC"]]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_data_dir_or_database(tmp_path, command) -> None:
    typo = tmp_path / "dta"
    env = cli_env(typo, "unused")
    del env["ORCHESTRATOR_DATABASE_URL"]
    line = one_line_error(cli(command, env))
    assert f"no database at {typo / 'orchestrator.db'} (chosen by ORCHESTRATOR_DATA_DIR={typo})" in line
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    env = cli_env(tmp_path / "data", f"sqlite+aiosqlite:///{missing}")
    line = one_line_error(cli(command, env))
    assert f"no database at {missing} (chosen by ORCHESTRATOR_DATABASE_URL)" in line
    assert not typo.exists() and not (tmp_path / "nonexistent").exists() and not (tmp_path / "data").exists()


def test_commands_that_need_no_database_create_none(tmp_path) -> None:
    env = cli_env(tmp_path / "dta", f"sqlite+aiosqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    for command in (["models", "--json"], ["openapi"]):
        done = cli(command, env)
        assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_taken_port_says_so_in_one_line_and_exits_2(tmp_path, database_url) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(["serve", "--port", str(port)], cli_env(tmp_path / "data", database_url))
        from_env = cli(["serve"], cli_env(tmp_path / "data", database_url, ORCHESTRATOR_PORT=str(port)))
    assert done.stderr.splitlines() == [
        f"orchestrator: error: port {port} on 127.0.0.1 is already in use (set by --port): stop the other "
        f"server or pick another port, e.g. `orchestrator serve --port {port + 1}`"
    ]
    assert done.returncode == 2 and from_env.returncode == 2
    assert "(set by ORCHESTRATOR_PORT)" in from_env.stderr and len(from_env.stderr.splitlines()) == 1
