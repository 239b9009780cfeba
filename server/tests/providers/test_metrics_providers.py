"""Provider latency and error classes reach /metrics from a live key's real provider calls."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from provider_emulators import openai as openai_emu
from provider_emulators._common import start_emulator
from support import sample_value

from .test_through_orchestrator import live_server


async def test_provider_errors_are_counted_by_class_and_calls_timed(start_server) -> None:
    # A private emulator: no request left over from another test can take the fault.
    state = openai_emu.OpenAIState(api_key=openai_emu.DEFAULT_API_KEY)
    state.faults.update(rate_limit=1, retry_after=0.1)
    with start_emulator(openai_emu.create_app(state), state) as emulator:
        server, key = await live_server(start_server, openai=emulator)
        async with server.client(key) as api:
            response = await api.post("/api/v1/generate", json={"prompt": "count me", "model": "dall-e-3"})
            assert response.status_code == 200, response.text
            text = (await api.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert (
        sample_value(families, "orchestrator_provider_errors_total", provider="openai", kind="retryable") == 1
    )
    # Two calls: the 429 and the success.
    assert (
        sample_value(families, "orchestrator_provider_request_duration_seconds_count", provider="openai") == 2
    )
    assert sample_value(families, "orchestrator_circuit_breaker_state", provider="openai") == 0
    assert (
        sample_value(
            families,
            "orchestrator_generations_total",
            model="dall-e-3",
            provider="openai",
            status="succeeded",
            mode="live",
        )
        == 1
    )
