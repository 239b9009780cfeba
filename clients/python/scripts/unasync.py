"""Generate the synchronous client (``_client.py``) from the asynchronous one (``_async_client.py``).

    python scripts/unasync.py          # rewrite _client.py
    python scripts/unasync.py --check  # exit 1 when _client.py is stale (also a unit test)

The rules, applied line by line:

* ``async def``/``async for``/``async with`` lose ``async``; ``await`` disappears.
* Async names become their sync twins (``NAMES``), as whole words only.
* A block between ``# unasync: sync`` and ``# unasync: async`` holds the sync version, commented
  out; it replaces the lines between ``# unasync: async`` and ``# unasync: end``.

The result is then fixed and formatted by ruff with the package's own settings, so the generated
file passes the same lint as the hand-written ones.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "freepik_ai_orchestrator"
SOURCE = PACKAGE / "_async_client.py"
TARGET = PACKAGE / "_client.py"

NAMES = {
    "AsyncOrchestrationClientWithRawResponse": "OrchestrationClientWithRawResponse",
    "AsyncOrchestrationClient": "OrchestrationClient",
    "AsyncPage": "SyncPage",
    "AsyncIterator": "Iterator",
    "AsyncClient": "Client",
    "aread": "read",
    "aclose": "close",
    "aiter_lines": "iter_lines",
    "aiter_bytes": "iter_bytes",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "asyncio": "time",
    "Awaitable": "",
}
# Strings that are not names: the sleep seam's type and the module docstring.
PHRASES = {
    "Callable[[float], Awaitable[None]]": "Callable[[float], None]",
    " (asynchronous: every method is a coroutine)": "",
}
HEADER = '''"""The synchronous client.

Generated from ``_async_client.py`` by ``scripts/unasync.py``: do not edit; change the async
client and run ``python scripts/unasync.py``.
"""
'''
_WORDS = re.compile(r"\b(" + "|".join(re.escape(n) for n in NAMES) + r")\b")
_ASYNC_KEYWORD = re.compile(r"\basync (def|for|with)\b")
_AWAIT = re.compile(r"\bawait ")
_MARKER = re.compile(r"^\s*# unasync: (sync|async|end)\b")


def _swap_blocks(lines: list[str]) -> list[tuple[str, bool]]:
    """Each line to keep, and whether it still needs rewriting (a sync block is final as is)."""
    out: list[tuple[str, bool]] = []
    state = None
    for number, line in enumerate(lines, 1):
        marker = _MARKER.match(line)
        if marker:
            expected = {"sync": None, "async": "sync", "end": "async"}[marker.group(1)]
            if state != expected:
                raise SystemExit(f"{SOURCE.name}:{number}: unexpected '# unasync: {marker.group(1)}'")
            state = None if marker.group(1) == "end" else marker.group(1)
            continue
        if state == "sync":
            indent = len(line) - len(line.lstrip())
            body = line.lstrip()
            if not body.startswith("#"):
                raise SystemExit(f"{SOURCE.name}:{number}: the sync block must be commented out")
            out.append((" " * indent + (body[2:] if body.startswith("# ") else body[1:]), False))
        elif state is None:
            out.append((line, True))
    if state is not None:
        raise SystemExit(f"{SOURCE.name}: a '# unasync:' block is not closed")
    return out


def _rewrite(line: str) -> str:
    for phrase, replacement in PHRASES.items():
        line = line.replace(phrase, replacement)
    line = _ASYNC_KEYWORD.sub(r"\1", line)
    line = _AWAIT.sub("", line)
    return _WORDS.sub(lambda m: NAMES[m.group(1)], line)


def _ruff(args: list[str], code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(TARGET), "-"],
        input=code,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=PACKAGE.parents[1],
    )
    if result.returncode != 0:
        failed = f"ruff {' '.join(args)} failed on the generated client"
        raise SystemExit(f"{failed}:\n{result.stderr}{result.stdout}")
    return result.stdout


def render() -> str:
    """The text ``_client.py`` must have."""
    source = SOURCE.read_text(encoding="utf-8")
    docstring_end = source.index('"""', 3) + 3  # the module docstring is replaced by HEADER
    body = source[docstring_end:].splitlines(keepends=True)
    lines = [_rewrite(line) if rewrite else line for line, rewrite in _swap_blocks(body)]
    code = HEADER + "".join(lines)
    code = code.replace("import , ", "import ").replace(", , ", ", ").replace(", \n", "\n")
    code = _ruff(["check", "--fix", "--quiet", "--exit-zero"], code)
    return _ruff(["format", "--quiet"], code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if _client.py is not up to date")
    args = parser.parse_args()
    expected = render()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != expected:
            print(f"{TARGET} is stale: run python scripts/unasync.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(expected, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
