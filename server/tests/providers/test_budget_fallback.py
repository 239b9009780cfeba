"""A budget holds when a job falls back to a dearer route (issue 18, medium 7).

flux-schnell is served by Replicate, then fal; here fal's route costs $1.00 an image. Before, the
budget was checked against the first route's price and the served route was charged: with a $0.50
budget, fal served at $1.00 after Replicate failed. Now the dearest possible route is reserved and
the route that served is charged.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from provider_emulators import fal as fal_emu
from provider_emulators import replicate as replicate_emu
from pydantic import SecretStr

from orchestrator.settings import ProviderCredentials

BODY = {"prompt": "fall back", "model": "flux-schnell"}


def _dear_fal_catalog(tmp_path: Path) -> Path:
    catalog = yaml.safe_load(resources.files("orchestrator.catalog").joinpath("models.yaml").read_text())
    routes = catalog["models"]["flux-schnell"]["routes"]
    assert [r["provider"] for r in routes] == ["replicate", "fal"]
    routes[1]["pricing"] = {"*": {"*": 1.00}}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


async def _server(start_server: Any, tmp_path: Path, replicate: Any, fal: Any) -> Any:
    providers = ProviderCredentials(  # type: ignore[call-arg]
        _env_file=None,
        replicate_api_token=SecretStr(replicate_emu.DEFAULT_API_KEY),
        replicate_base_url=replicate.base_url,
        fal_key=SecretStr(fal_emu.DEFAULT_API_KEY),
        fal_base_url=fal.base_url,
    )
    return await start_server(
        providers=providers, catalog_path=_dear_fal_catalog(tmp_path), job_deadline_seconds=20
    )


async def test_a_budget_below_the_dearest_fallback_route_is_refused_before_any_call(
    start_server, tmp_path, replicate_emulator, fal_emulator
) -> None:
    replicate_emulator.state.faults.update(server_errors=-1, server_error_status=503)
    server = await _server(start_server, tmp_path, replicate_emulator, fal_emulator)
    key = await server.create_key(mode="live", monthly_budget=Decimal("0.50"))
    async with server.client(key) as api:
        response = await api.post("/api/v1/generate", json=BODY)
    assert response.status_code == 402, response.text
    assert "highest price" in response.json()["error"]["message"]
    assert fal_emulator.state.count(method="POST") == 0  # nothing ran, nothing was charged
    assert replicate_emulator.state.count("/predictions", method="POST") == 0


async def test_the_reservation_is_the_dearest_route_and_the_charge_is_the_route_that_served(
    start_server, tmp_path, replicate_emulator, fal_emulator
) -> None:
    server = await _server(start_server, tmp_path, replicate_emulator, fal_emulator)
    key = await server.create_key(mode="live", monthly_budget=Decimal("1.50"))
    async with server.client(key) as api:
        served = await api.post("/api/v1/generate", json=BODY)
        assert served.status_code == 200, served.text
        assert served.json()["provider"] == "replicate" and served.json()["cost"] == 0.003
        # $1.497 left, but the next one could fall back to the $1.00 route: still admitted once.
        second = await api.post("/api/v1/generate", json=BODY)
        assert second.status_code == 200 and second.json()["cost"] == 0.003
        replicate_emulator.state.faults.update(server_errors=-1, server_error_status=503)
        fell_back = await api.post("/api/v1/generate", json=BODY)
        assert fell_back.status_code == 200 and fell_back.json()["provider"] == "fal"
        assert fell_back.json()["cost"] == 1.0
        refused = await api.post("/api/v1/generate", json=BODY)  # $0.494 left < $1.00
    assert refused.status_code == 402
