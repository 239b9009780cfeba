"""Every ```python snippet of the seed client reference runs unchanged (apart from URL and key)
against a real server.

The snippets are extracted from ``shared/seed/000_e80767665285fc9c.txt`` (beside the repository)
at test time, so the test follows the document. They are executed in order in one namespace, the
way a reader pastes them into a session: later snippets use the ``client`` an earlier one made.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
from typing import Any

import pytest

from freepik_ai_orchestrator import GenerationResponse, ModelInfo
from tests.integration.conftest import LiveServer
from tests.support import REPO_ROOT

SEED = REPO_ROOT.parent / "shared" / "seed" / "000_e80767665285fc9c.txt"

# The seed reference is planning material beside the repository (CI has it), not part of it.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SEED.is_file(), reason=f"no seed client reference beside the repo ({SEED})"),
]
URLS = ("http://localhost:8000", "https://your-domain.com")
KEYS = ("sk-your-api-key-here", "your-bearer-token", "your-api-key")  # longest first: substrings


def seed_snippets() -> list[str]:
    if not SEED.is_file():
        pytest.skip(f"the seed client reference is not beside the repository ({SEED})")
    blocks = re.findall(r"^```python[ \t]*\n(.*?)^```", SEED.read_text(encoding="utf-8"), re.S | re.M)
    assert len(blocks) >= 15, f"expected the seed's python snippets, found {len(blocks)}"
    return blocks


def runnable(snippet: str) -> bool:
    """The installation fence holds a shell command, not Python."""
    return not snippet.strip().startswith("pip install")


def adapt(snippet: str, url: str, key: str) -> str:
    """The only changes allowed: the server URL and the credentials."""
    for placeholder in URLS:
        snippet = snippet.replace(f'"{placeholder}"', f'"{url}"')
    for placeholder in KEYS:
        snippet = snippet.replace(f'"{placeholder}"', f'"{key}"')
    return snippet


def find(snippets: list[str], marker: str) -> str:
    matches = [s for s in snippets if marker in s]
    assert len(matches) == 1, f"{len(matches)} seed snippets contain {marker!r}"
    return matches[0]


def run(snippet: str, namespace: dict[str, Any]) -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(snippet, "<seed snippet>", "exec"), namespace)
    return output.getvalue()


def reader_namespace() -> dict[str, Any]:
    # The "Response Objects" snippets annotate ``created_at: datetime``; a reader reading them has
    # datetime imported. Nothing else is provided: each snippet imports what it uses.
    from datetime import datetime

    return {"__name__": "__seed__", "datetime": datetime}


def test_every_snippet_in_order(live_server: LiveServer) -> None:
    snippets = [s for s in seed_snippets() if runnable(s)]
    namespace = reader_namespace()
    outputs: list[str] = []
    for snippet in snippets:
        outputs.append(run(adapt(snippet, live_server.url, live_server.key), namespace))
    text = "".join(outputs)
    assert re.search(r"Generated image URL: http://127\.0\.0\.1:\d+/\S+", text)
    assert "dall-e-3: " in text
    assert "Max resolution: 1792x1024" in text
    assert "Supported styles: [" in text
    assert "Total generations: " in text and "Cost: $" in text
    # The error-handling snippet succeeded quietly with a good key.
    assert "Invalid API key" not in text and "Generation failed" not in text
    # Values the snippets left behind are the documented types.
    assert isinstance(namespace["response"], GenerationResponse)
    assert namespace["response"].image_url
    assert len(namespace["responses"]) == 3 and all(r.image_url for r in namespace["responses"])
    assert all(isinstance(m, ModelInfo) for m in namespace["models"])
    history = namespace["history"]
    assert len(history) <= 50 and all(g.model == "dall-e-3" for g in history.data)
    # The last snippet ("Resource Cleanup") closed the client.
    assert namespace["client"]._http.is_closed
    # The retry snippet defines a helper: it must work with our client as written.
    from freepik_ai_orchestrator import OrchestrationClient

    with OrchestrationClient(base_url=live_server.url, api_key=live_server.key) as fresh:
        retried = namespace["generate_with_retry"](fresh, "retry helper prompt")
    assert retried.status == "succeeded"


def test_response_object_snippets_match_our_models() -> None:
    for marker, model in (("class GenerationResponse:", GenerationResponse), ("class ModelInfo:", ModelInfo)):
        tree = ast.parse(find(seed_snippets(), marker))
        fields = [
            node.target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        ]
        assert fields
        missing = [name for name in fields if name not in model.model_fields]
        assert not missing, f"{model.__name__} lacks seed fields {missing}"


def paste_through(live_server: LiveServer, marker: str, key: str) -> tuple[str, dict[str, Any]]:
    """Paste the snippets in order up to the one containing ``marker``, which gets ``key`` (the
    others the server's normal key); return what that last snippet printed, and the namespace."""
    snippets = [s for s in seed_snippets() if runnable(s)]
    target = find(snippets, marker)
    namespace = reader_namespace()
    for snippet in snippets[: snippets.index(target)]:
        run(adapt(snippet, live_server.url, live_server.key), namespace)
    return run(adapt(target, live_server.url, key), namespace), namespace


def error_handling_with(live_server: LiveServer, key: str) -> str:
    """The client of "API Key Authentication" gets ``key``; then the error-handling snippet runs."""
    _, namespace = paste_through(live_server, 'api_key="sk-your-api-key-here"', key)
    snippet = find(seed_snippets(), "except AuthenticationError:")
    return run(adapt(snippet, live_server.url, key), namespace)


def test_error_handling_snippet_with_a_bad_key(live_server: LiveServer) -> None:
    assert error_handling_with(live_server, "sk-test-this-key-does-not-exist") == "Invalid API key\n"


def test_error_handling_snippet_with_an_exhausted_rate_limit(live_server: LiveServer) -> None:
    key = live_server.create_key("seed-rate-limited", "--rate-limit", "1")
    from freepik_ai_orchestrator import OrchestrationClient

    with OrchestrationClient(base_url=live_server.url, api_key=key) as spender:
        spender.list_models()  # uses the one request this minute allows
    out = error_handling_with(live_server, key)
    match = re.fullmatch(r"Rate limit exceeded\. Retry after: (\d+(?:\.\d+)?)\n", out)
    assert match, out
    assert 30 < float(match.group(1)) <= 60


def test_async_snippet_alone(live_server: LiveServer) -> None:
    namespace = reader_namespace()
    run(adapt(find(seed_snippets(), "AsyncOrchestrationClient"), live_server.url, live_server.key), namespace)
    assert isinstance(namespace["response"], GenerationResponse)
    assert namespace["response"].status == "succeeded"
    # asyncio.run closed its loop; nothing may be left running.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_bearer_snippet_authenticates(live_server: LiveServer) -> None:
    _, namespace = paste_through(live_server, 'bearer_token="your-bearer-token"', live_server.key)
    client = namespace["client"]
    assert client.bearer_token == live_server.key
    assert client.list_models()
    client.close()
