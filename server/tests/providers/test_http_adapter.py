"""What every HTTP adapter gets from ``HttpAdapter``: one credential, never shown, named once."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from orchestrator.providers.fal import FalProvider
from orchestrator.providers.http_adapter import HttpAdapter
from orchestrator.providers.midjourney import MidjourneyProvider
from orchestrator.providers.openai import OpenAIProvider
from orchestrator.providers.registry import PROVIDERS, build_providers
from orchestrator.settings import ProviderCredentials

SECRETS = {
    "openai_api_key": "sk-secret-openai-123456",
    "stability_api_key": "sk-secret-stability-123456",
    "replicate_api_token": "r8_secret_replicate_123456",
    "fal_key": "secret-fal-id:secret-fal-key",
    "freepik_api_key": "FPSX-secret-freepik-123456",
    "midjourney_api_secret": "secret-midjourney-123456",
}


async def test_every_http_adapter_is_built_on_the_base_and_never_shows_its_credential(
    http_client: httpx.AsyncClient,
) -> None:
    credentials = ProviderCredentials(
        _env_file=None,  # type: ignore[call-arg]
        midjourney_base_url="http://127.0.0.1:9/mj",
        **{name: SecretStr(value) for name, value in SECRETS.items()},
    )
    built = build_providers(credentials, http_client)

    http = {name: adapter for name, adapter in built.items() if isinstance(adapter, HttpAdapter)}
    assert sorted(http) == ["fal", "freepik", "midjourney", "openai", "replicate", "stability"]
    for name, adapter in http.items():
        assert adapter.name == name
        shown = f"{adapter!r} {adapter!s} {vars(adapter)!r}"
        assert not any(secret in shown for secret in SECRETS.values()), name


async def test_the_setting_an_auth_error_names_is_the_one_the_registry_defines(
    http_client: httpx.AsyncClient,
) -> None:
    adapter = OpenAIProvider(http_client, credential=SecretStr("k"))
    assert adapter._setting == PROVIDERS["openai"].credential == "ORCHESTRATOR_OPENAI_API_KEY"
    assert FalProvider(http_client, credential=None)._setting == "ORCHESTRATOR_FAL_KEY"
    # The proxy is enabled by its URL; what it rejects is the secret.
    mj = MidjourneyProvider(http_client, credential=None, base_url="http://127.0.0.1:9")
    assert mj._setting == "ORCHESTRATOR_MIDJOURNEY_API_SECRET"
