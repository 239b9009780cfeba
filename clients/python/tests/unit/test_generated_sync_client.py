"""The sync client is generated from the async one (scripts/unasync.py); never edited by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.support import CLIENT_ROOT


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", CLIENT_ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_sync_client_is_what_the_generator_writes() -> None:
    unasync = _generator()
    assert unasync.TARGET.read_text(encoding="utf-8") == unasync.render(), (
        "_client.py is stale: run `python scripts/unasync.py` in clients/python"
    )


def test_an_edit_to_the_async_client_makes_the_sync_client_stale(tmp_path: Path) -> None:
    unasync = _generator()
    edited = tmp_path / "_async_client.py"
    source = unasync.SOURCE.read_text(encoding="utf-8")
    edited.write_text(source.replace('"""Fetch one generation', '"""Fetch exactly one generation', 1))
    unasync.SOURCE = edited
    rendered = unasync.render()
    assert "Fetch exactly one generation" in rendered
    assert rendered != unasync.TARGET.read_text(encoding="utf-8")


def test_the_generated_client_has_no_async_left() -> None:
    text = (CLIENT_ROOT / "src" / "freepik_ai_orchestrator" / "_client.py").read_text(encoding="utf-8")
    for word in ("async ", "await ", "asyncio", "Awaitable", "aclose", "aiter_", "unasync:"):
        assert word not in text.replace("scripts/unasync.py", "").replace("_async_client.py", ""), word
