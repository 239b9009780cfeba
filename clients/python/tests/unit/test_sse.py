"""The Server-Sent Events decoder."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from freepik_ai_orchestrator import ProviderError
from freepik_ai_orchestrator._sse import ServerSentEvent, SSEDecoder
from tests.support import MockServer, collect, error_body


def feed(text: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [e for line in text.split("\n") if (e := decoder.feed(line)) is not None]
    tail = decoder.flush()
    return events + ([tail] if tail else [])


def test_basic_event() -> None:
    assert feed("event: running\ndata: {}\nid: 7\n\n") == [ServerSentEvent("running", "{}", "7")]


def test_multiline_data_comments_and_crlf() -> None:
    events = feed(": ping\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\n")
    assert events == [ServerSentEvent("x", "a\nb", None)]


def test_default_event_name_id_persists_and_retry() -> None:
    events = feed("id: 1\ndata: one\n\nretry: 2000\ndata: two\n\n")
    assert events[0] == ServerSentEvent("message", "one", "1")
    assert events[1].id == "1" and events[1].retry == 2000


def test_blank_lines_alone_dispatch_nothing() -> None:
    assert feed("\n\n: comment\n\n") == []


def test_field_without_space_and_unknown_fields() -> None:
    assert feed("data:x\nfoo: bar\n\n") == [ServerSentEvent("message", "x", None)]


async def test_an_error_event_raises_the_mapped_exception(client: Any, server: MockServer) -> None:
    body = f"event: error\ndata: {json.dumps(error_body('provider_error', 'provider_error'))}\n\n"
    server.add(httpx.Response(200, content=body.encode()))
    with pytest.raises(ProviderError):
        await collect(client.stream_events("gen_1"))
