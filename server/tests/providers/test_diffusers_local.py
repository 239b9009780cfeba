"""Local diffusers adapter on the CPU with a tiny Stable Diffusion pipeline built from random weights.

The pipeline is made here (diffusers' own dummy components, providers.md §8.2–8.3, with an offline
BPE tokenizer), saved with ``save_pretrained`` and loaded by the adapter from that path exactly as
it would load real weights.

Tests that need torch/diffusers skip when the ``diffusers`` extra is not installed, unless
``ORCHESTRATOR_REQUIRE_DIFFUSERS=1`` (CI), where a missing extra fails them loudly.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from orchestrator.providers.base import ProviderError, ProviderErrorKind, ProviderRequest
from orchestrator.providers.diffusers_local import SETTING, DiffusersProvider, from_settings, snap8
from orchestrator.settings import ProviderCredentials

REQUIRE = os.environ.get("ORCHESTRATOR_REQUIRE_DIFFUSERS") == "1"

# transformers' own tiny CLIP BPE vocabulary (tests/models/clip/test_tokenization_clip.py): every
# merge result is in the vocabulary, which the tokenizers-backed CLIPTokenizer insists on.
VOCAB = ["l", "o", "w", "e", "r", "s", "t", "i", "d", "n", "lo", "l</w>", "w</w>", "r</w>", "t</w>",
         "low</w>", "er</w>", "lowest</w>", "newer</w>", "wider",
         "<unk>", "<|startoftext|>", "<|endoftext|>"]  # fmt: skip
MERGES = "#version: 0.2\nl o\nlo w</w>\ne r</w>"


def build_tiny_pipeline(directory: Path) -> Path:
    """Save a randomly initialised, tiny SD pipeline under ``directory/model`` and return that path."""
    # importlib (typed Any): type checking must not depend on whether the extra is installed.
    torch: Any = importlib.import_module("torch")
    diffusers: Any = importlib.import_module("diffusers")
    transformers: Any = importlib.import_module("transformers")

    tokenizer_dir = directory / "tokenizer-src"
    tokenizer_dir.mkdir()
    (tokenizer_dir / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(VOCAB)}))
    (tokenizer_dir / "merges.txt").write_text(MERGES)
    # model_max_length is required: without it the pipeline pads prompts to 1e30 tokens.
    tokenizer = transformers.CLIPTokenizer.from_pretrained(str(tokenizer_dir), model_max_length=77)

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=8,
        norm_num_groups=2,
    )
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,  # 0 logs a deprecation warning
    )
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(
        block_out_channels=[4, 8],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
    )
    torch.manual_seed(0)
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            hidden_size=8,
            intermediate_size=16,
            layer_norm_eps=1e-05,
            num_attention_heads=2,
            num_hidden_layers=2,
            pad_token_id=1,
            vocab_size=1000,
        )
    )
    pipeline = diffusers.StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    model_dir = directory / "model"
    pipeline.save_pretrained(str(model_dir))
    return model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        for module in ("torch", "diffusers", "transformers"):
            importlib.import_module(module)
    except ImportError as exc:
        message = f"the diffusers extra is not installed ({exc}); pip install -e 'server[diffusers]'"
        if REQUIRE:
            pytest.fail(f"ORCHESTRATOR_REQUIRE_DIFFUSERS=1 but {message}", pytrace=False)
        pytest.skip(message)
    return build_tiny_pipeline(tmp_path_factory.mktemp("diffusers"))


@pytest.fixture
async def local(model_dir: Path, http_client: httpx.AsyncClient) -> Any:
    credentials = ProviderCredentials(_env_file=None, diffusers_model_path=str(model_dir))
    adapter = from_settings(credentials, http_client)
    assert isinstance(adapter, DiffusersProvider)
    yield adapter
    await adapter.aclose()


def req(width: int = 64, height: int = 64, steps: int = 2, **kwargs: Any) -> ProviderRequest:
    kwargs.setdefault("deadline", time.monotonic() + 60)
    params = {"num_inference_steps": steps, "guidance_scale": 6.0, **kwargs.pop("params", {})}
    return ProviderRequest(
        prompt="lower newer", provider_model="local", width=width, height=height, params=params, **kwargs
    )


async def no_progress(_: float) -> None:
    pass


def pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


# ---------------------------------------------------------------------- without the extra


def test_importing_the_adapter_does_not_import_torch() -> None:
    code = (
        "import sys, orchestrator.providers.diffusers_local, orchestrator.providers.registry\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_from_settings_none_without_model_path(http_client: httpx.AsyncClient) -> None:
    assert from_settings(ProviderCredentials(_env_file=None), http_client) is None


async def test_from_settings_fails_fast_without_the_extra(
    http_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "diffusers" else real_find_spec(name, *a),
    )
    credentials = ProviderCredentials(_env_file=None, diffusers_model_path=str(tmp_path))

    # Whatever else is absent here (torch on a light install), diffusers is named as missing.
    with pytest.raises(RuntimeError, match=r"ORCHESTRATOR_DIFFUSERS_MODEL_PATH.*missing: [^)]*\bdiffusers\b"):
        from_settings(credentials, http_client)


def test_sides_snap_to_multiples_of_8() -> None:
    assert [snap8(v) for v in (64, 100, 99, 3, 1023, 1028)] == [64, 104, 96, 8, 1024, 1032]


async def test_unloadable_model_names_the_setting(tmp_path: Path) -> None:
    adapter = DiffusersProvider(str(tmp_path / "no-such-model"))
    try:
        with pytest.raises(ProviderError) as info:
            await adapter.generate(req(), no_progress)
    finally:
        await adapter.aclose()
    # Missing extra or missing weights: either way the operator's setting is what to fix.
    assert info.value.kind is ProviderErrorKind.AUTH
    assert SETTING in info.value.message


# ---------------------------------------------------------------------- with the extra


async def test_generates_n_images_of_the_requested_size(local: DiffusersProvider) -> None:
    result = await local.generate(req(96, 72, n=2, seed=3, negative_prompt="wider"), no_progress)

    assert len(result.images) == 2
    for image in result.images:
        assert (image.content_type, image.width, image.height) == ("image/png", 96, 72)
        assert Image.open(io.BytesIO(image.data)).size == (96, 72)
    assert result.seed == 3


async def test_sides_are_rounded_to_multiples_of_8(local: DiffusersProvider) -> None:
    result = await local.generate(req(100, 60), no_progress)

    assert (result.images[0].width, result.images[0].height) == (104, 64)


async def test_equal_seeds_give_equal_images(local: DiffusersProvider) -> None:
    first = await local.generate(req(seed=1234), no_progress)
    again = await local.generate(req(seed=1234), no_progress)
    other = await local.generate(req(seed=4321), no_progress)

    assert pixels(first.images[0].data) == pixels(again.images[0].data)
    assert pixels(first.images[0].data) != pixels(other.images[0].data)


async def test_unseeded_runs_report_a_reproducible_seed(local: DiffusersProvider) -> None:
    result = await local.generate(req(), no_progress)
    assert isinstance(result.seed, int)

    replay = await local.generate(req(seed=result.seed), no_progress)

    assert pixels(replay.images[0].data) == pixels(result.images[0].data)


async def test_progress_per_denoising_step(local: DiffusersProvider) -> None:
    seen: list[tuple[float, bool]] = []
    loop = asyncio.get_running_loop()

    async def on_progress(fraction: float) -> None:
        # Delivered on the event loop's own thread, not the worker's.
        seen.append((fraction, asyncio.get_running_loop() is loop))

    await local.generate(req(steps=4), on_progress)

    assert seen == [(0.25, True), (0.5, True), (0.75, True), (1.0, True)]


async def test_concurrent_jobs_are_serialised(local: DiffusersProvider) -> None:
    results = await asyncio.gather(*(local.generate(req(seed=s), no_progress) for s in (1, 2, 1)))

    assert pixels(results[0].images[0].data) == pixels(results[2].images[0].data)
    assert pixels(results[0].images[0].data) != pixels(results[1].images[0].data)


async def test_deadline_interrupts_the_run_and_frees_the_worker(local: DiffusersProvider) -> None:
    await local.generate(req(), no_progress)  # load outside the timed part
    started = time.monotonic()

    with pytest.raises(ProviderError) as info:
        await local.generate(req(steps=500, deadline=time.monotonic() + 0.3), no_progress)

    assert info.value.kind is ProviderErrorKind.TIMEOUT
    assert time.monotonic() - started < 2.0
    # The abandoned run stops at its next step, so the next job is not stuck behind it.
    follow_up_started = time.monotonic()
    result = await local.generate(req(), no_progress)
    assert len(result.images) == 1
    assert time.monotonic() - follow_up_started < 10.0
