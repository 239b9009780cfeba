"""The project's own documentation runs: README (cURL and Python), the Python client's README, and
the code blocks of ``docs/``. Only the server URL and the key are put in; a doc cannot rot.

Blocks that are fragments (they continue a story the reader already has in their session) are
run in a namespace holding what the doc assumes: an open ``client`` and a finished ``response``.
Blocks that cannot run as a whole are listed in ``FRAGMENTS`` with the reason; they are still
compiled and their imports run, and every ``orchestrator …`` command line in the docs must parse.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import cli_env, run_cli

from orchestrator.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
CLIENT_README = REPO / "clients" / "python" / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
KEY_PLACEHOLDERS = ("sk-test-...", "sk-test-…")

# Markers of blocks that cannot run as written, and why.
FRAGMENTS = {
    "other_job": "cancels a job the reader made elsewhere",
    "…signed-url…": "stands for a URL from a real response",
    'mask=open("mask.png", "rb")': "lists the kinds of input, with files and ids of the reader's own",
    "response.images[1]": "needs an n>1 generation",
    "await executor.execute(attempts": "sketches the executor's interface",
    "state.faults.update(server_errors=2)": "sketches an emulator test",
    "new_server_field": "sends a field only a newer server knows (what extra_body is for)",
    "async with AsyncOrchestrationClient() as client:\n    ...": "shows both context managers at once",
    "request_body_bytes": "a receiver's handler: the body and headers come from the reader's web framework",
}


def blocks(path: Path, *languages: str) -> list[str]:
    pattern = r"^```(?:" + "|".join(languages) + r")[ \t]*\n(.*?)^```"
    return re.findall(pattern, path.read_text(encoding="utf-8"), re.S | re.M)


def fragment_reason(block: str) -> str | None:
    return next((why for marker, why in FRAGMENTS.items() if marker in block), None)


def put_in(block: str, url: str, key: str) -> str:
    block = block.replace("http://localhost:8000", url)
    for placeholder in KEY_PLACEHOLDERS:
        block = block.replace(placeholder, key)
    return block


def run_python(block: str, namespace: dict[str, Any]) -> str:
    """Run a block as a reader pastes it into a session (top-level ``await`` allowed)."""
    code = compile(block, "<doc block>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = eval(code, namespace)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return output.getvalue()


def check_fragment(block: str) -> None:
    """Compile it and run its imports: the names it uses from our packages must exist."""
    tree = ast.parse(block, mode="exec", type_comments=False, feature_version=None)
    compile(block, "<doc fragment>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), "<doc imports>", "exec"), {})


@pytest.fixture(scope="module")
def live(module_serve_process, module_database_url) -> tuple[str, str, dict[str, str]]:
    """One `orchestrator serve` and one key for the module's doc runs: each run starts from what
    a reader has (a server and a key) and asserts only on what it made itself."""
    env = cli_env(module_serve_process.data_dir, module_database_url)
    key = run_cli(
        ["keys", "create", "--name", "docs", "--scopes", "generate", "read", "admin", "--json"], env
    )
    # The client README registers a webhook; here it points at a closed loopback port.
    _, url = module_serve_process(ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE_TARGETS="true")
    return url, key["key"], env


@pytest.mark.timeout(180)  # starts `orchestrator serve` and runs the documented commands as processes
def test_readme_curl_quick_start_runs(live, tmp_path) -> None:
    url, _, env = live
    [quick_start] = [b for b in blocks(README, "bash") if "curl" in b]
    script = []
    for line in put_in(quick_start, url, "UNUSED").splitlines():
        if line.startswith(".venv/bin/orchestrator keys create"):
            # Run the documented command itself, and hand its secret on as the reader would.
            done = subprocess.run(
                ["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            [secret] = re.findall(r"^\s+(sk-test-\S+)$", done.stdout, re.M)
            continue
        if line.startswith("export KEY="):
            line = f"export KEY={shlex.quote(secret)}"
        script.append(line)
    # One answer per line, and a failed request fails the block.
    prelude = 'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }\nset -e\n'
    done = subprocess.run(
        ["bash", "-c", prelude + "\n".join(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    generated, models, history = (json.loads(line) for line in done.stdout.splitlines() if line)
    assert generated["status"] == "succeeded" and generated["image_url"].startswith(url)
    assert "dall-e-3" in {m["name"] for m in models["data"]}
    assert history["data"][0]["id"] == generated["id"]


@pytest.mark.timeout(180)  # starts `orchestrator serve` and runs the documented commands as processes
def test_readme_python_block_runs(live) -> None:
    url, key, _ = live
    [block] = [b for b in blocks(README, "python") if "freepik_ai_orchestrator" in b]
    printed = run_python(put_in(block, url, key), {"__name__": "__readme__"})
    assert re.match(rf"{re.escape(url)}/\S+ 0\.04\d*\n", printed), printed


@pytest.mark.timeout(180)  # starts `orchestrator serve` and runs the documented commands as processes
def test_readme_openai_sdk_block_runs(live) -> None:
    url, key, _ = live
    [block] = [b for b in blocks(README, "python") if "from openai import" in b]
    printed = run_python(put_in(block, url, key), {"__name__": "__readme__"})
    assert re.match(rf"{re.escape(url)}/api/v1/images/\S+\n", printed), printed


@pytest.mark.timeout(180)  # starts `orchestrator serve` and runs the documented commands as processes
def test_client_readme_blocks_run(live, tmp_path, monkeypatch) -> None:
    from freepik_ai_orchestrator import OrchestrationClient

    url, key, _ = live
    monkeypatch.chdir(tmp_path)  # downloads land here
    monkeypatch.setenv("ORCHESTRATOR_BASE_URL", url)
    monkeypatch.setenv("ORCHESTRATOR_API_KEY", key)
    ran = 0
    for block in blocks(CLIENT_README, "python"):
        if fragment_reason(block):
            check_fragment(block)
            continue
        with OrchestrationClient(base_url=url, api_key=key) as client:
            response = client.generate(prompt="the doc's earlier answer", model="dall-e-3")
            namespace = {"__name__": "__readme__", "client": client, "response": response}
            block = block.replace("https://example.com/hooks", "http://127.0.0.1:9/hooks")
            run_python(put_in(block, url, key), namespace)
        ran += 1
    assert ran >= 6, f"only {ran} client README blocks ran"
    downloads = list((tmp_path / "images").glob("gen_*-0.png"))  # the quick start's download
    assert downloads and all(path.stat().st_size > 0 for path in downloads)


def test_docs_python_blocks_compile_and_import() -> None:
    checked = 0
    for doc in DOCS:
        for block in blocks(doc, "python"):
            check_fragment(block)
            checked += 1
    assert checked >= 1


def orchestrator_commands(text: str) -> tuple[list[list[str]], list[list[str]]]:
    """The `orchestrator …` commands of a doc: whole ones in shell blocks (also after
    `… exec api-1`), and the often partial ones of inline code spans."""
    whole, spans = [], []
    for block in re.findall(r"^```(?:bash|sh|shell)[ \t]*\n(.*?)^```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            words = line.split(" #")[0].split()
            starts = [i for i, word in enumerate(words) if os.path.basename(word) == "orchestrator"]
            if starts:
                whole.append(shlex.split(" ".join(words[starts[0] + 1 :])))
    for span in re.findall(r"`((?:\.venv/bin/)?orchestrator [^`]+)`", text):
        spans.append(shlex.split(span.replace("\n", " "))[1:])
    return whole, spans


def subcommand_parser(parser: Any, words: list[str]) -> Any:
    """The parser of the (sub)command the words name, following `keys create` and the like."""
    for word in words:
        if word.startswith("-"):
            break
        choices = next((a.choices for a in parser._actions if hasattr(a, "_name_parser_map")), None)
        if not choices or word not in choices:
            break
        parser = choices[word]
    return parser


def test_documented_orchestrator_commands_parse() -> None:
    parser = build_parser()
    checked = 0
    for doc in [README, *DOCS]:
        whole, spans = orchestrator_commands(doc.read_text(encoding="utf-8"))
        for words in whole:
            parser.parse_args(words)  # exits (fails the test) on an unknown command or option
            checked += 1
        for words in spans:
            command = subcommand_parser(parser, words)
            known = {option for action in command._actions for option in action.option_strings}
            unknown = [w.split("=")[0] for w in words if w.startswith("--") and w.split("=")[0] not in known]
            assert not unknown, f"{doc.name}: `orchestrator {' '.join(words)}` uses unknown {unknown}"
            checked += 1
    assert checked >= 5
