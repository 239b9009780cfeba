"""The batch command's Idempotency-Keys: what makes a resumed batch free."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rich", reason="the command line is the [cli] extra")

from freepik_ai_orchestrator.cli import main
from freepik_ai_orchestrator.cli._batch import line_key, read_jobs

PARAMS = {"model": "dall-e-3"}


def test_the_same_file_and_line_give_the_same_key(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# comment\nfirst\n\nsecond\n")
    first, second = read_jobs(prompts, PARAMS), read_jobs(prompts, PARAMS)
    assert [j.idempotency_key for j in first] == [j.idempotency_key for j in second]
    assert [j.prompt for j in first] == ["first", "second"]
    assert [j.params["metadata"]["cli_line"] for j in first] == ["2", "4"]  # file line numbers
    assert len({j.idempotency_key for j in first}) == 2


def test_a_key_changes_with_the_line_the_prompt_the_options_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    key = line_key(path, 1, "p", PARAMS)
    assert key.startswith("cli-batch-") and len(key) <= 255
    assert line_key(path, 2, "p", PARAMS) != key
    assert line_key(path, 1, "q", PARAMS) != key
    assert line_key(path, 1, "p", {"model": "flux-dev"}) != key
    assert line_key(tmp_path / "b.txt", 1, "p", PARAMS) != key
    assert line_key(tmp_path / "." / "a.txt", 1, "p", PARAMS) == key  # the resolved path counts


def test_an_edited_line_does_not_change_the_others(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("one\ntwo\nthree\n")
    before = read_jobs(prompts, PARAMS)
    prompts.write_text("one\nTWO\nthree\n")
    after = read_jobs(prompts, PARAMS)
    same = [b.idempotency_key == a.idempotency_key for b, a in zip(before, after, strict=True)]
    assert same == [True, False, True]


def test_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    common = ["--base-url", "http://127.0.0.1:9", "--api-key", "sk-test-x", "batch"]
    assert main([*common, str(empty), "--model", "dall-e-3"]) == 2
    assert main([*common, str(tmp_path / "missing.txt"), "--model", "dall-e-3"]) == 2
    assert main([*common, str(empty), "--model", "dall-e-3", "--concurrency", "0"]) == 2
    assert "has no prompts" in capsys.readouterr().err
