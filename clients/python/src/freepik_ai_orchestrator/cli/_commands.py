"""What each command does, on an open :class:`AsyncOrchestrationClient`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from .._async_client import AsyncOrchestrationClient
from ..webhooks import WebhookVerificationError, verify_webhook
from . import EXIT_FAILED, EXIT_USAGE, default_dates
from ._batch import read_jobs
from ._jobs import Job, new_progress, run_jobs
from ._render import emit_json, money, table

_OPTIONS = ("style", "size", "quality", "n", "seed", "negative_prompt")


def _generation_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {"model": args.model}
    params.update({name: getattr(args, name) for name in _OPTIONS if getattr(args, name) is not None})
    return params


def _finish(jobs: list[Job], as_json: bool, err: Console) -> int:
    out = Console()
    failed = [job for job in jobs if not job.ok]
    if as_json:
        for job in jobs:
            sys.stdout.write(json.dumps(job.as_json()) + "\n")
    else:
        for job in jobs:
            where = " ".join(str(p) for p in job.files) or (
                job.generation.image_url if job.generation else ""
            )
            if job.ok:
                out.print(f"{job.label}\t{where}", highlight=False, soft_wrap=True)
    for job in failed:
        err.print(f"[red]failed[/red] {job.label}: {job.error}", highlight=False)
    images = sum(len(job.files) for job in jobs)
    cost = sum(job.generation.cost or 0.0 for job in jobs if job.ok and job.generation)
    err.print(
        f"{len(jobs) - len(failed)} succeeded, {len(failed)} failed, {images} images saved, {money(cost)}"
    )
    return EXIT_FAILED if failed else 0


async def generate(client: AsyncOrchestrationClient, args: argparse.Namespace, err: Console) -> int:
    job = Job(label=args.prompt[:40], prompt=args.prompt, params=_generation_params(args))
    with new_progress(err) as progress:
        await run_jobs(
            client, [job], None if args.no_download else args.out, concurrency=1, progress=progress
        )
    return _finish([job], args.json, err)


async def batch(client: AsyncOrchestrationClient, args: argparse.Namespace, err: Console) -> int:
    if args.concurrency < 1:
        err.print("--concurrency must be at least 1")
        return EXIT_USAGE
    try:
        jobs = read_jobs(args.file, _generation_params(args))
    except OSError as exc:
        err.print(f"cannot read {args.file}: {exc.strerror or exc}")
        return EXIT_USAGE
    if not jobs:
        err.print(f"{args.file} has no prompts")
        return EXIT_USAGE
    with new_progress(err) as progress:
        await run_jobs(client, jobs, args.out, concurrency=args.concurrency, progress=progress)
    return _finish(jobs, args.json, err)


async def history(client: AsyncOrchestrationClient, args: argparse.Namespace, _err: Console) -> int:
    page = await client.get_generation_history(
        limit=min(args.limit, 100), filter_by_model=args.model, status=args.status
    )
    items = []
    async for item in page:
        items.append(item)
        if len(items) >= args.limit:
            break
    if args.json:
        emit_json(items)
        return 0
    rows = [
        (
            g.id,
            g.status,
            g.model,
            g.prompt[:48],
            money(g.cost),
            g.created_at.isoformat(" ", "seconds") if g.created_at else "",
        )
        for g in items
    ]
    table(Console(), "Generations", ["id", "status", "model", "prompt", "cost", "created"], rows)
    return 0


async def usage(client: AsyncOrchestrationClient, args: argparse.Namespace, _err: Console) -> int:
    start, end = default_dates(args.start, args.end)
    stats = await client.get_usage_stats(start, end, group_by=args.group_by)
    if args.json:
        emit_json(stats)
        return 0
    buckets = stats.groups if stats.groups is not None else stats.by_model
    title = f"Usage {stats.start_date} to {stats.end_date}: {stats.total_generations} generations, " + (
        f"{stats.total_images} images, {money(stats.total_cost)}"
    )
    rows = [(b.key, b.generations, b.images, money(b.cost)) for b in buckets]
    table(Console(), title, [args.group_by or "model", "generations", "images", "cost"], rows)
    return 0


async def webhooks(client: AsyncOrchestrationClient, args: argparse.Namespace, _err: Console) -> int:
    out = Console()
    if args.action == "list":
        endpoints = await client.list_webhooks()
        if args.json:
            emit_json(endpoints)
        else:
            rows = [(e.id, e.url, e.status, ", ".join(e.events), e.description) for e in endpoints]
            table(out, "Webhook endpoints", ["id", "url", "status", "events", "description"], rows)
        return 0
    if args.action == "create":
        created = await client.create_webhook(args.url, events=args.events, description=args.description)
        if args.json:
            emit_json(created)
        else:
            out.print(f"{created.id} {created.url}", highlight=False)
            out.print(f"secret (shown once): {created.secret}", highlight=False)
        return 0
    if args.action == "deliveries":
        deliveries = (await client.list_webhook_deliveries(args.webhook_id)).data
        if args.json:
            emit_json(deliveries)
        else:
            lines = [
                (d.id, d.event_type, d.status, d.attempts, d.last_status_code, d.last_error, d.created_at)
                for d in deliveries
            ]
            columns = ["id", "event", "status", "attempts", "last status", "last error", "created"]
            table(out, f"Deliveries of {args.webhook_id}", columns, lines)
        return 0
    if args.action == "test":
        delivery = await client.send_test_webhook(args.webhook_id)
        if args.json:
            emit_json(delivery)
        else:
            out.print(f"queued {delivery.event_type} {delivery.id}", highlight=False)
        return 0
    action = {
        "get": client.get_webhook,
        "delete": client.delete_webhook,
        "pause": client.pause_webhook,
        "resume": client.resume_webhook,
    }[args.action]
    endpoint = await action(args.webhook_id)
    if args.json:
        emit_json(endpoint)
    else:
        verb = {"delete": "deleted ", "pause": "paused ", "resume": "resumed "}.get(args.action, "")
        line = f"{verb}{endpoint.id} {endpoint.url} {endpoint.status} {', '.join(endpoint.events)}"
        out.print(line, highlight=False)
    return 0


def verify(args: argparse.Namespace) -> int:
    headers: dict[str, str] = {}
    for raw in args.header:
        name, sep, value = raw.partition(":")
        if not sep:
            sys.stderr.write(f"--header {raw!r}: expected 'name: value'\n")
            return EXIT_USAGE
        headers[name.strip()] = value.strip()
    try:
        event = verify_webhook(args.payload.read_bytes(), headers, args.secret)
    except WebhookVerificationError as exc:
        sys.stderr.write(f"not authentic: {exc}\n")
        return EXIT_FAILED
    sys.stdout.write(json.dumps(event, indent=2) + "\n")
    return 0
