"""Local generation with Hugging Face ``diffusers`` from weights on disk (optional extra ``diffusers``).

``ORCHESTRATOR_DIFFUSERS_MODEL_PATH`` points at a directory written by ``save_pretrained`` (a
``model_index.json`` with its component folders). The pipeline is loaded with
``AutoPipelineForText2Image.from_pretrained(path, local_files_only=True)`` on first use, never
from the Hub. torch, diffusers and transformers are imported only then, so the default install
(and importing this module) does not need them.

A pipeline must not be called from two threads at once, so loading and every generation run on
one dedicated worker thread, one job at a time; the event loop only awaits the result. Device: CUDA
when torch sees a GPU, else CPU, always float32.

Parameter mapping: ``width``/``height`` → rounded to the nearest multiple of 8 (the UNet needs it;
the returned images report their real size), ``n`` → ``num_images_per_prompt``,
``negative_prompt`` → ``negative_prompt``, ``seed`` → ``torch.Generator("cpu").manual_seed(seed)``
(a random seed is drawn and reported when none is given, so every result is reproducible), and the
route's ``params`` are passed to the pipeline call as keyword arguments (e.g.
``num_inference_steps``, ``guidance_scale``). Progress is each finished denoising step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import io
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from orchestrator.providers import _http
from orchestrator.providers.base import (
    Operation,
    ProgressCallback,
    Provider,
    ProviderError,
    ProviderErrorKind,
    ProviderImage,
    ProviderRequest,
    ProviderResult,
)
from orchestrator.providers.registry import PROVIDERS
from orchestrator.settings import ProviderCredentials

PROVIDER = "diffusers"
SETTING = PROVIDERS[PROVIDER].credential
SEED_MAX = 2**32 - 1

# Arguments the adapter owns; a route param of the same name would silently fight them.
_RESERVED = frozenset(
    {
        "prompt",
        "negative_prompt",
        "width",
        "height",
        "num_images_per_prompt",
        "generator",
        "output_type",
        "return_dict",
        "callback_on_step_end",
    }
)


def snap8(value: int) -> int:
    """Nearest multiple of 8, at least 8 (SD-family UNets need sides divisible by 8)."""
    return max(8, (value + 4) // 8 * 8)


class _Interrupted(Exception):
    """Raised inside the pipeline's step callback to stop a generation nobody waits for."""


class DiffusersProvider:
    """Runs a local ``diffusers`` text-to-image pipeline on a single worker thread."""

    name = PROVIDER

    def __init__(self, model_path: str) -> None:
        self._path = model_path
        self._pipeline: Any = None  # set on the worker thread, used only there
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffusers")

    async def generate(self, request: ProviderRequest, on_progress: ProgressCallback) -> ProviderResult:
        """Generate ``request.n`` images; waits behind earlier jobs on the worker thread."""
        if request.operation is not Operation.GENERATE:
            raise ProviderError(
                ProviderErrorKind.INVALID_REQUEST,
                f"the local diffusers pipeline does not support the {request.operation.value!r} "
                "operation (it supports: generate)",
                provider=PROVIDER,
                provider_code="unsupported_operation",
            )
        if _http.remaining(request.deadline) == 0.0:
            raise _http.timeout_error(PROVIDER, "the local pipeline")
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        reports: list[concurrent.futures.Future[None]] = []
        report = _http.monotonic_progress(on_progress)

        def progress(fraction: float) -> None:
            # Called on the worker thread: hop back onto the event loop, never block the step.
            reports.append(asyncio.run_coroutine_threadsafe(report(fraction), loop))

        seed = request.seed if request.seed is not None else random.randint(0, SEED_MAX)
        job = loop.run_in_executor(self._executor, self._run, request, seed, progress, stop)
        # If we stop waiting, the worker still finishes (or aborts) this job: consume its outcome.
        job.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            async with asyncio.timeout(_http.remaining(request.deadline)):
                images = await asyncio.shield(job)
        except TimeoutError:
            stop.set()  # the worker stops at its next step (or before starting) and moves on
            raise _http.timeout_error(PROVIDER, "the local pipeline") from None
        except asyncio.CancelledError:
            stop.set()
            raise
        # Deliver the last progress reports before returning; a failing callback is not our failure.
        await asyncio.gather(*(asyncio.wrap_future(f) for f in reports), return_exceptions=True)
        return ProviderResult(images=images, seed=seed)

    async def aclose(self) -> None:
        """Let a running generation finish, then free the worker thread and the pipeline."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        self._pipeline = None

    # ------------------------------------------------------------------ worker thread

    def _load(self) -> Any:
        if self._pipeline is not None:
            return self._pipeline
        try:
            # Through importlib so type checking does not depend on whether the extra is installed.
            torch: Any = importlib.import_module("torch")
            diffusers: Any = importlib.import_module("diffusers")
            diffusers_logging: Any = importlib.import_module("diffusers.utils.logging")
            transformers_logging: Any = importlib.import_module("transformers.utils.logging")
        except ImportError as exc:
            raise ProviderError(
                ProviderErrorKind.AUTH,
                f"{SETTING} is set but the diffusers extra is not installed ({exc.name} is missing): "
                "pip install 'freepik-ai-orchestrator[diffusers]'",
                provider=PROVIDER,
                provider_code="missing_dependency",
            ) from exc
        # A server's logs are no place for tqdm bars (these switches are process-wide).
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        try:
            pipeline = diffusers.AutoPipelineForText2Image.from_pretrained(self._path, local_files_only=True)
        except (OSError, ValueError) as exc:
            # A wrong path or incomplete weights: the operator's configuration, not the request.
            raise ProviderError(
                ProviderErrorKind.AUTH,
                f"could not load the diffusers pipeline from {SETTING} ({self._path}): {exc}",
                provider=PROVIDER,
                provider_code="model_load_failed",
            ) from exc
        pipeline = pipeline.to("cuda" if torch.cuda.is_available() else "cpu")
        pipeline.set_progress_bar_config(disable=True)
        self._pipeline = pipeline
        return pipeline

    def _run(
        self,
        request: ProviderRequest,
        seed: int,
        progress: Callable[[float], None],
        stop: threading.Event,
    ) -> list[ProviderImage]:
        if stop.is_set():  # gave up while queued behind another job
            raise _http.timeout_error(PROVIDER, "the local pipeline")
        pipeline = self._load()
        torch: Any = importlib.import_module("torch")

        kwargs = {k: v for k, v in request.params.items() if k not in _RESERVED}
        steps = int(kwargs.get("num_inference_steps", 50))

        def on_step_end(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if stop.is_set() or (request.deadline is not None and time.monotonic() >= request.deadline):
                raise _Interrupted
            progress(min(1.0, (step + 1) / max(steps, 1)))
            return tensors

        try:
            output = pipeline(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                width=snap8(request.width),
                height=snap8(request.height),
                num_images_per_prompt=request.n,
                generator=torch.Generator("cpu").manual_seed(seed),
                callback_on_step_end=on_step_end,
                output_type="pil",
                **kwargs,
            )
        except _Interrupted:
            raise _http.timeout_error(PROVIDER, "the local pipeline") from None
        except (TypeError, ValueError, IndexError) as exc:
            # A route param the pipeline or its scheduler cannot take (e.g. too many steps).
            raise ProviderError(
                ProviderErrorKind.INVALID_REQUEST,
                f"the diffusers pipeline rejected the request: {exc}",
                provider=PROVIDER,
                provider_code="invalid_parameters",
            ) from exc
        except RuntimeError as exc:
            # torch's failures (out of memory above all) depend on what else is running.
            raise ProviderError(
                ProviderErrorKind.RETRYABLE,
                f"the diffusers pipeline failed: {exc}",
                provider=PROVIDER,
                provider_code="pipeline_error",
            ) from exc
        flagged = getattr(output, "nsfw_content_detected", None)
        if flagged and any(flagged):
            raise ProviderError(
                ProviderErrorKind.CONTENT_POLICY,
                f"the local safety checker flagged {sum(map(bool, flagged))} of {len(flagged)} images",
                provider=PROVIDER,
                provider_code="nsfw_content",
            )
        images = []
        for image in output.images:
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            images.append(ProviderImage(buffer.getvalue(), "image/png", image.width, image.height))
        return images


def from_settings(credentials: ProviderCredentials, client: httpx.AsyncClient) -> Provider | None:
    """The local diffusers adapter, or ``None`` when ``ORCHESTRATOR_DIFFUSERS_MODEL_PATH`` is unset.

    ``client`` is unused: nothing here goes over HTTP. Nothing is loaded until the first job, but
    a missing extra is reported here (``RuntimeError``) so a misconfigured server fails to start.
    """
    del client
    if not credentials.diffusers_model_path:
        return None
    # Fail at startup, not on the first job, when the extra is missing (find_spec imports nothing).
    missing = [
        name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise RuntimeError(
            f"{SETTING} is set but the diffusers extra is not installed (missing: {', '.join(missing)}); "
            "install torch==2.13.0 for this host, then pip install 'freepik-ai-orchestrator[diffusers]'"
        )
    return DiffusersProvider(credentials.diffusers_model_path)
