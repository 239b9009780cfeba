"""The committed OpenAPI document must match what the app generates."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.cli import openapi_document

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"


def test_committed_openapi_is_current() -> None:
    generated = json.loads(json.dumps(openapi_document(), sort_keys=True))
    committed = json.loads(COMMITTED.read_text())
    assert generated == committed, "openapi.json is stale: run `make openapi` and commit the result"


def test_operation_ids_are_stable_and_unique() -> None:
    ids = [op["operationId"] for path in openapi_document()["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {
        "generate",
        "generateBatch",
        "listGenerations",
        "getGeneration",
        "cancelGeneration",
        "streamGenerationEvents",
        "listModels",
        "getModel",
        "getUsage",
        "createKey",
        "listKeys",
        "revokeKey",
    } <= set(ids)
