"""The docs point only at things that exist: every API-looking path in ``docs/`` and the READMEs
is an operation of ``openapi.json``, every relative link resolves to a file inside the repository
(and its ``#anchor`` to a heading of that file), and ``docs/api.md`` is what the app renders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.cli import api_reference_markdown

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        *REPO.glob("README.md"),
        *REPO.glob("*/README.md"),
        *(REPO / "clients").glob("*/README.md"),
        *(REPO / "docs").glob("*.md"),
    ]
)
OPENAPI = json.loads((REPO / "openapi.json").read_text())

# Paths of the providers' own APIs, which docs/providers.md describes (they are not ours).
UPSTREAM_PATHS = {
    "docs/providers.md": {
        "/v1/predictions",  # Replicate
        "/v1/predictions/{id}",
        "/v1/predictions/{id}/cancel",
        "/v1/models/{owner}/{name}/predictions",
        "/v1/ai/text-to-image",  # Freepik
        "/v1/ai/text-to-image/{model}",
        "/v1/ai/text-to-image/{model}/{task_id}",
        "/v1/ai/mystic",
        "/v1/ai/mystic/{task_id}",
        "/v1/ai/image-upscaler",
        "/v1/ai/image-upscaler/{task_id}",
        "/v1/ai/beta/remove-background",
        "/v1/files",  # Replicate
    }
}

_API_PATH = re.compile(r"(?<![\w.:/-])/(?:api/v1|v1)(?:/[\w{}.…*-]+)*")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def api_paths(text: str) -> set[str]:
    return {match.rstrip(".") for match in _API_PATH.findall(text)}


def _segments(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


def exists_in_openapi(path: str, operations: list[str]) -> bool:
    """A concrete or templated path (``{id}``, ``…``, ``*`` stand for any segment), or a prefix
    that real paths continue (``/api/v1``)."""
    wanted = _segments(path)

    def same(mine: str, theirs: str) -> bool:
        wild = ("{", "…", "*")
        return mine == theirs or theirs.startswith("{") or mine.startswith(wild) or mine == "…"

    for operation in operations:
        theirs = _segments(operation)
        if len(theirs) == len(wanted) and all(same(m, t) for m, t in zip(wanted, theirs, strict=True)):
            return True
    return any(operation.startswith(path.rstrip("/") + "/") for operation in operations)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def dead_links(doc: Path, text: str) -> list[str]:
    problems = []
    for target in (a or b for a, b in _LINK.findall(text)):
        if re.match(r"[a-z]+:", target) or target.startswith("//"):
            continue  # http(s), mailto: not ours to check offline
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if REPO not in resolved.parents and resolved != REPO:
            problems.append(f"{target} leaves the repository")
        elif not resolved.exists():
            problems.append(f"{target} does not exist")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor}")
    return problems


def missing_paths(doc: Path, text: str) -> list[str]:
    operations = list(OPENAPI["paths"])
    allowed = UPSTREAM_PATHS.get(doc.relative_to(REPO).as_posix(), set())
    return sorted(p for p in api_paths(text) - allowed if not exists_in_openapi(p, operations))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    assert dead_links(doc, doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_api_path_in_the_docs_is_an_operation(doc: Path) -> None:
    assert missing_paths(doc, doc.read_text(encoding="utf-8")) == []


def test_the_checks_catch_a_dead_link_and_a_path_the_api_lacks(tmp_path: Path) -> None:
    doc = REPO / "docs" / "configuration.md"
    text = (
        "See [notes](../../shared/ARCHITECTURE.md), [gone](missing.md), [ok](api.md), "
        "[bad anchor](api.md#no-such-heading) and [ok anchor](#metrics).\n"
        "Call `POST /v1/generate`, `GET /api/v1/generations/gen_123/events` and `/api/v1/images/…`."
    )
    assert dead_links(doc, text) == [
        "../../shared/ARCHITECTURE.md leaves the repository",
        "missing.md does not exist",
        "api.md#no-such-heading: no heading #no-such-heading",
    ]
    assert missing_paths(doc, text) == ["/v1/generate"]


def test_the_api_reference_is_rendered_from_the_app() -> None:
    committed = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == api_reference_markdown(), "docs/api.md is stale: run `make openapi` and commit it"
