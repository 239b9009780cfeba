"""Running generation jobs with a progress bar each: submit, follow the events, download.

Shared by ``generate`` (one job) and ``batch`` (one per line). Every job carries its own
Idempotency-Key, so running the same job again (a resumed batch) replays the server's answer
instead of paying for a second image.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

from .._async_client import AsyncOrchestrationClient
from ..exceptions import DestinationExistsError, OrchestrationError
from ..models import GenerationResponse


@dataclass
class Job:
    """One generation to run: what to send, and what became of it."""

    label: str
    prompt: str
    params: dict[str, Any]
    idempotency_key: str | None = None
    generation: GenerationResponse | None = None
    files: list[Path] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.generation is not None and self.generation.status == "succeeded"

    def as_json(self) -> dict[str, Any]:
        generation = self.generation
        return {
            "label": self.label,
            "prompt": self.prompt,
            "ok": self.ok,
            "generation_id": generation.id if generation else None,
            "status": generation.status if generation else "failed",
            "cost": generation.cost if generation else None,
            "files": [str(path) for path in self.files],
            "error": self.error,
        }


def new_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}", table_column=None),
        BarColumn(bar_width=24),
        TaskProgressColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )


async def run_jobs(
    client: AsyncOrchestrationClient,
    jobs: list[Job],
    out: Path | None,
    *,
    concurrency: int,
    progress: Progress,
) -> None:
    """Run every job, at most ``concurrency`` at a time; each ends with ``generation`` or ``error``."""
    slots = asyncio.Semaphore(concurrency)
    overall = progress.add_task("[bold]all", total=len(jobs), status="") if len(jobs) > 1 else None
    tasks = [progress.add_task(job.label, total=100, status="waiting") for job in jobs]

    async def one(job: Job, task: TaskID) -> None:
        async with slots:
            await _run(client, job, out, progress, task)
        if overall is not None:
            done = sum(1 for j in jobs if j.generation is not None or j.error is not None)
            failed = sum(1 for j in jobs if j.error is not None)
            progress.update(overall, completed=done, status=f"{failed} failed" if failed else "")

    await asyncio.gather(*(one(job, task) for job, task in zip(jobs, tasks, strict=True)))


async def _run(
    client: AsyncOrchestrationClient, job: Job, out: Path | None, progress: Progress, task: TaskID
) -> None:
    try:
        progress.update(task, status="submitting")
        generation = await client.submit(job.prompt, idempotency_key=job.idempotency_key, **job.params)
        if not generation.is_terminal:
            async for event in client.stream_events(generation.id):
                generation = event.data
                fraction = generation.progress or 0.0
                progress.update(task, completed=min(fraction, 0.99) * 100, status=generation.status)
        job.generation = generation
        if generation.status != "succeeded":
            code = generation.error.code if generation.error else None
            message = generation.error.message if generation.error else None
            job.error = f"{generation.status}: {code or ''} {message or ''}".strip()
            progress.update(task, status=f"[red]{job.error}")
            return
        if out is not None:
            progress.update(task, status="downloading")
            job.files = await _download(client, generation, out)
        progress.update(task, completed=100, status="[green]done " + " ".join(p.name for p in job.files))
    except OrchestrationError as exc:
        job.error = f"{type(exc).__name__}: {exc}"
        progress.update(task, status=f"[red]{job.error}")


async def _download(
    client: AsyncOrchestrationClient, generation: GenerationResponse, out: Path
) -> list[Path]:
    """Each image into ``out`` as ``<generation id>-<index>.<ext>``; one already there (a resumed
    run) is kept, not fetched again."""
    files: list[Path] = []
    for image in generation.images:
        try:
            files.extend(await client.download(image, out))
        except DestinationExistsError as exc:
            files.append(Path(exc.filename))
    return files
