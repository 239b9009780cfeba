"""Which provider adapters exist, and building the configured ones from settings.

Adapters are imported lazily by dotted path so an optional one (diffusers) costs nothing when its
extra is not installed, and so importing this module does no work.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from orchestrator.providers.base import Provider
from orchestrator.settings import ProviderCredentials


class ProviderFactory(Protocol):
    """Each adapter module exposes ``from_settings`` with this signature."""

    def __call__(self, credentials: ProviderCredentials, client: httpx.AsyncClient) -> Provider | None: ...


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    module: str
    credential: str
    """The setting an operator must set to enable this provider (named in error messages)."""


PROVIDERS: Mapping[str, ProviderEntry] = {
    "openai": ProviderEntry("orchestrator.providers.openai", "ORCHESTRATOR_OPENAI_API_KEY"),
    "stability": ProviderEntry("orchestrator.providers.stability", "ORCHESTRATOR_STABILITY_API_KEY"),
    "replicate": ProviderEntry("orchestrator.providers.replicate", "ORCHESTRATOR_REPLICATE_API_TOKEN"),
    "fal": ProviderEntry("orchestrator.providers.fal", "ORCHESTRATOR_FAL_KEY"),
    "freepik": ProviderEntry("orchestrator.providers.freepik", "ORCHESTRATOR_FREEPIK_API_KEY"),
    "midjourney": ProviderEntry("orchestrator.providers.midjourney", "ORCHESTRATOR_MIDJOURNEY_BASE_URL"),
    "diffusers": ProviderEntry("orchestrator.providers.diffusers_local", "ORCHESTRATOR_DIFFUSERS_MODEL_PATH"),
}


def build_providers(credentials: ProviderCredentials, client: httpx.AsyncClient) -> dict[str, Provider]:
    """Instantiate every adapter whose credentials are configured."""
    built: dict[str, Provider] = {}
    for name, entry in PROVIDERS.items():
        try:
            module = importlib.import_module(entry.module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("orchestrator"):
                continue  # adapter not part of this build
            if _configured(credentials, name):
                raise RuntimeError(
                    f"provider {name!r} is configured but its dependencies are missing: {exc}"
                ) from exc
            continue
        factory: ProviderFactory = module.from_settings
        provider = factory(credentials, client)
        if provider is not None:
            built[name] = provider
    return built


def _configured(credentials: ProviderCredentials, name: str) -> bool:
    setting = PROVIDERS[name].credential.removeprefix("ORCHESTRATOR_").lower()
    return getattr(credentials, setting, None) is not None


def missing_credential(provider: str) -> str:
    entry = PROVIDERS.get(provider)
    return entry.credential if entry else f"provider {provider!r} is not supported by this build"
