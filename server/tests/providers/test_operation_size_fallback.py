"""Fallback between the routes of an image operation translates the output size into each
route's vocabulary: a route with fixed sizes (OpenAI's gpt-image-1) gets the nearest allowed size,
a route that takes aspect ratios (Replicate's FLUX Kontext) the nearest aspect ratio, or its own
`match_input_image` when the size follows the input. Live keys against the real emulators."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from image_inputs import png
from provider_emulators import openai as openai_emu
from provider_emulators import replicate as replicate_emu
from pydantic import SecretStr

from orchestrator.settings import ProviderCredentials

MODEL = "edit-two-vocabularies"


def _catalog(tmp_path: Path) -> Path:
    catalog = yaml.safe_load(resources.files("orchestrator.catalog").joinpath("models.yaml").read_text())
    catalog["models"][MODEL] = {
        "description": "An edit served by OpenAI (fixed sizes), else Replicate (aspect ratios).",
        "text_to_image": False,
        "qualities": ["low", "medium", "high"],
        "default_quality": "medium",
        "operations": {"edit": {"max_images": 1, "pricing": {"*": {"*": 0.05}}}},
        "routes": [
            {
                "provider": "openai",
                "model": "gpt-image-1",
                "text_to_image": False,
                "operations": {"edit": "gpt-image-1"},
            },
            {
                "provider": "replicate",
                "model": "black-forest-labs/flux-kontext-pro",
                "text_to_image": False,
                "operations": {"edit": "black-forest-labs/flux-kontext-pro"},
            },
        ],
    }
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def _form_size(body: bytes) -> str:
    found = re.search(rb'name="size"\r\n\r\n([0-9]+x[0-9]+)\r\n', body)
    assert found, body[:400]
    return found.group(1).decode()


async def test_an_edit_falling_back_gets_each_routes_nearest_size(
    start_server: Any, tmp_path: Path, openai_emulator: Any, replicate_emulator: Any
) -> None:
    openai_emulator.state.faults.update(server_errors=-1, server_error_status=503)
    providers = ProviderCredentials(  # type: ignore[call-arg]
        _env_file=None,
        openai_api_key=SecretStr(openai_emu.DEFAULT_API_KEY),
        openai_base_url=openai_emulator.base_url + "/v1",
        replicate_api_token=SecretStr(replicate_emu.DEFAULT_API_KEY),
        replicate_base_url=replicate_emulator.base_url,
    )
    server = await start_server(
        providers=providers,
        catalog_path=_catalog(tmp_path),
        job_deadline_seconds=20,
        provider_max_attempts=1,  # one call per route: straight to the fallback
    )
    key = await server.create_key(mode="live")
    source = png(300, 200, (200, 90, 20))  # 3:2
    async with server.client(key) as api:
        # A size of another aspect (1344x768 is 1.75:1): nearest size there, nearest ratio here.
        wide = await api.post(
            "/api/v1/images/edits",
            data={"model": MODEL, "prompt": "add a kite", "size": "1344x768"},
            files={"images": ("in.png", source, "image/png")},
        )
        assert wide.status_code == 200, wide.text
        openai_calls = openai_emulator.state.calls("/images/edits", "POST")
        (kontext,) = replicate_emulator.state.calls("/predictions", "POST")
        assert [_form_size(c.body) for c in openai_calls] == ["1536x1024"]
        assert kontext.json()["input"]["aspect_ratio"] == "16:9"
        assert wide.json()["provider"] == "replicate" and wide.json()["cost"] == 0.05
        assert [a["provider"] for a in wide.json()["failed_attempts"]] == ["openai"]

        # No size: the output follows the input; Kontext is told so in its own words.
        openai_emulator.state.requests.clear()
        replicate_emulator.state.requests.clear()
        same = await api.post(
            "/api/v1/images/edits",
            data={"model": MODEL, "prompt": "add a kite"},
            files={"images": ("in.png", source, "image/png")},
        )
        assert same.status_code == 200, same.text
        assert {_form_size(c.body) for c in openai_emulator.state.calls("/images/edits", "POST")} == {
            "1536x1024"
        }
        (kontext,) = replicate_emulator.state.calls("/predictions", "POST")
        assert kontext.json()["input"]["aspect_ratio"] == "match_input_image"
