"""``generate()`` resolves only on success, so its result promises what the client reference
declares (``cost: float``, ``style: str``, ``image_url: str``…): checked at run time, and by
mypy --strict on a user's code. Nulls stay on history items (clients/spec/conformance.json,
``result_types``)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from freepik_ai_orchestrator import GenerationResponse, GenerationResult
from tests.support import MockServer, generation, load_spec, resolve

USER_CODE = """
from freepik_ai_orchestrator import AsyncOrchestrationClient, GenerationResponse, OrchestrationClient


def total(client: OrchestrationClient) -> float:
    r = client.generate(prompt="A beautiful sunset over mountains", model="dall-e-3")
    style: str = r.style
    url: str = r.image_url
    thumbnail: str = r.thumbnail_url
    print(style, url, thumbnail, r.size.upper(), r.quality.upper(), r.created_at.year)
    queued: GenerationResponse = client.submit("p", "dall-e-3")
    print(queued.cost)
    return r.cost + r.processing_time


async def total_async(client: AsyncOrchestrationClient) -> float:
    r = await client.generate(prompt="p", model="dall-e-3")
    return r.cost + r.processing_time
"""


def test_user_code_adding_cost_and_time_passes_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is a dev tool (requirements-dev.lock)")
    user = tmp_path / "user.py"
    user.write_text(USER_CODE)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_history_item_may_not_be_used_as_a_result(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is a dev tool (requirements-dev.lock)")
    user = tmp_path / "history.py"
    user.write_text(
        "from freepik_ai_orchestrator import OrchestrationClient\n"
        "def f(client: OrchestrationClient) -> float:\n"
        "    item = client.get_generation_history().data[0]\n"
        "    return item.cost + 1.0\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1 and 'Unsupported operand types for + ("None" and "float")' in done.stdout


async def test_generate_fills_style_and_an_unknown_price(client: Any, server: MockServer) -> None:
    rule = load_spec()["result_types"]
    server.json(200, generation(style=None, cost=None), {"X-Request-ID": "req_r"})
    result = await resolve(client.generate(prompt="p", model="flux-dev"))
    assert isinstance(result, GenerationResult) and isinstance(result, GenerationResponse)
    assert result.style == "" and '""' in rule["style_when_none"]
    assert math.isnan(result.cost) and "NaN" in rule["cost_when_unpriced"]
    assert result._request_id == "req_r"
    for name in rule["generate_result_never_null"]:
        assert getattr(result, name) is not None, name
    server.json(200, {"object": "list", "data": [generation(style=None, cost=None)], "has_more": False})
    page = await resolve(client.get_generation_history())
    assert page.data[0].style is None and page.data[0].cost is None  # nulls stay on history items
